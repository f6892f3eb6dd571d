#!/usr/bin/env bash
# Set up ezv2-lite, then open the course in JupyterLab at the first notebook.
#
#   bash scripts/course.sh            # the full setting: budgets sized for this machine's device
#   bash scripts/course.sh --fast     # the fast setting (EZV2_FAST=1): small training budgets, same code
#
# The course opens in course/, a working copy of notebooks/ made on first use (and topped up with
# notebooks added later, never overwriting yours): your outputs and edits stay out of the repository.
# Start again from the originals with `rm -rf course` (or copy one notebook back from notebooks/).
# Terminals opened in JupyterLab have the environment's tools on PATH (`ezv2-lite --help`).
# Other arguments go to `jupyter lab` (e.g. --port 8890 --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for arg in "$@"; do
    if [ "$arg" = --fast ]; then export EZV2_FAST=1; else args+=("$arg"); fi
done
EZV2_CLUSTER=1 bash scripts/setup.sh  # (the cluster extra: notebook 07 runs a sweep on Ray)
(cd notebooks && find . -type f ! -path "*/.ipynb_checkpoints/*") | while read -r file; do
    [ -e "course/$file" ] || { mkdir -p "course/$(dirname "$file")" && cp "notebooks/$file" "course/$file"; }
done
# No "would you like to get Jupyter news?" pop-up on the first open.
.venv/bin/jupyter labextension disable --level=sys_prefix "@jupyterlab/apputils-extension:announcements" \
    >/dev/null 2>&1 || true
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" MUJOCO_GL="${MUJOCO_GL:-egl}"
[ "$(id -u)" = 0 ] && args+=(--allow-root)  # JupyterLab refuses root without it (containers, CI)
echo "the course opens in $PWD/course ($([ "${EZV2_FAST:-}" = 1 ] && echo fast || echo full) setting)"
exec jupyter lab course/00_start_here.ipynb ${args[@]+"${args[@]}"}
