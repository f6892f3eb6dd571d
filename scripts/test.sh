#!/usr/bin/env bash
# Set up ezv2-lite, then run every test: pytest on tests/ and every notebook under nbval.
# Notebooks run in fast mode (EZV2_FAST=1: small training budgets, the same code path).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export EZV2_FAST=1 MUJOCO_GL=${MUJOCO_GL:-egl}
exec .venv/bin/python -m pytest tests --nbval-lax notebooks --durations=10 "$@"
