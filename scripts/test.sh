#!/usr/bin/env bash
# Set up ezv2-lite, then run every test: pytest on tests/ and every notebook under nbval.
# Notebooks run in fast mode (EZV2_FAST=1: small training budgets, the same code path).
# tests/test_browser.py opens notebooks in JupyterLab in headless Chromium: setup installs
# Chromium and Playwright here; on CI a missing browser fails those tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."
EZV2_BROWSER=1 EZV2_CLUSTER=1 bash scripts/setup.sh
if [ "${CI:-}" = true ]; then export EZV2_REQUIRE_BROWSER=1; fi
export EZV2_FAST=1 MUJOCO_GL=${MUJOCO_GL:-egl}
# One pytest-xdist worker per core; each notebook (its cells share a kernel) and each test
# module (its fixtures: one JupyterLab, one trained model) runs on one worker (conftest.py).
exec .venv/bin/python -m pytest tests --nbval-lax notebooks -n auto --dist loadscope --durations=15 "$@"
