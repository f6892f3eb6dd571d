#!/usr/bin/env bash
# Download, into ./.whl, the wheels of the packages ezv2-lite's benchmarks need that a GPU
# machine with only PyTorch lacks (Python 3.12, x86-64 Linux; versions as in this
# checkout's environment). benchmarks/gpu_check.sh installs them there. DEVELOPERS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    -d .whl "tyro==$(version tyro)" "docstring-parser==$(version docstring-parser)" \
    "typeguard==$(version typeguard)" "gymnasium==$(version gymnasium)" \
    "farama-notifications==$(version farama-notifications)" "ale-py==$(version ale-py)"  # the Pong run
ls -la .whl
