#!/usr/bin/env bash
# Set up ezv2-lite, then open the course in JupyterLab at the first notebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # JupyterLab refuses root without it (containers, CI)
exec .venv/bin/jupyter lab notebooks/00_start_here.ipynb ${extra[@]+"${extra[@]}"} "$@"
