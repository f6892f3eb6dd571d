#!/usr/bin/env bash
# Set up ezv2-lite in ./.venv: system packages when this user may install them
# (graphviz's `dot` for search-tree drawings; Mesa EGL for headless MuJoCo
# rendering), PyTorch, then the package with its `notebooks`, `dev`, `tensorboard` and `minatar` extras.
# With EZV2_BROWSER=1 (scripts/test.sh) also Debian's Chromium and the `browser`
# extra (Playwright) for the tests that open the notebooks in JupyterLab; with EZV2_CLUSTER=1
# the `cluster` extra (Ray and rliable, for `ezv2-lite sweep` and its report).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: ezv2-lite needs Python 3.10 or newer ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
    exit 1
fi

# System packages (Debian/Ubuntu). Elsewhere, install graphviz yourself.
missing=()
if command -v dpkg >/dev/null 2>&1; then
    packages=(graphviz libegl1 libegl-mesa0 libgl1-mesa-dri)
    [ "${EZV2_BROWSER:-0}" = 1 ] && packages+=(chromium)
    for pkg in "${packages[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
elif ! command -v dot >/dev/null 2>&1; then
    echo "warning: the graphviz 'dot' program is missing: install graphviz to draw search trees" >&2
fi
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
    if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "warning: please install these system packages: ${missing[*]}" >&2
    fi
fi

extras="notebooks,dev,tensorboard,minatar"
[ "${EZV2_BROWSER:-0}" = 1 ] && extras+=",browser"
[ "${EZV2_CLUSTER:-0}" = 1 ] && extras+=",cluster"
# Nothing to do when an earlier set-up from this pyproject.toml and setup.sh installed these extras
# (or more: course.sh asks for fewer than test.sh).
stamp=.venv/.ezv2-setup
hash="$("$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])' \
    < <(cat pyproject.toml scripts/setup.sh))"
have_hash="" have_extras=""
[ -f "$stamp" ] && read -r have_hash have_extras <"$stamp"
covered=1
for extra in ${extras//,/ }; do [[ ",$have_extras," == *",$extra,"* ]] || covered=0; done
if [ -x .venv/bin/python ] && [ "$have_hash" = "$hash" ] && [ "$covered" = 1 ] \
        && .venv/bin/python -c 'import ezv2_lite' 2>/dev/null; then
    echo "ezv2-lite is set up in $(pwd)/.venv (unchanged since its last set-up)"
    exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# pip's and the build's own messages (e.g. setuptools' editable-install banner) go to a log,
# shown only when a step fails.
log=.venv/setup.log
quiet() {
    "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "error: set-up failed (all of it in $log)" >&2; exit 1; }
}
: >"$log"
echo "setting up ezv2-lite in $(pwd)/.venv (extras: $extras; pip's messages go to $log)"
quiet .venv/bin/python -m pip install -q --upgrade pip
# Pin torch before anything can ask for it: on a CPU-only machine this takes the
# local CPU wheel instead of downloading a multi-GB CUDA build (measured on this project's machines).
.venv/bin/python -c 'import torch' 2>/dev/null || quiet .venv/bin/python -m pip install -q "torch==2.13.0"
quiet .venv/bin/python -m pip install -q -e ".[$extras]"
# (pip keeps what it installed before: the extras add up)
[ "$have_hash" = "$hash" ] && [ -n "$have_extras" ] && extras="$have_extras,$extras"
echo "$hash $extras" >"$stamp"
echo "ezv2-lite is set up in $(pwd)/.venv"
