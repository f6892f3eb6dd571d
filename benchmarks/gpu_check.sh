#!/usr/bin/env bash
# The GPU benchmarks: one batched search and one learner step of each preset on a CUDA
# device, timed with the device synchronised, and the search with its model step compiled
# (search.compile_step: CUDA graphs), written as JSON to $OUT. Its three commands are
# stopped after 4, 2 and 2 minutes (8 in all); the compiled one runs last and may fail
# without losing the others. How to run it where a GPU is at hand:
# DEVELOPERS.md.
#
#   OUT=benchmarks/results bash benchmarks/gpu_check.sh
#   DEVICE=cpu REPEATS=1 SEARCH_PRESETS=cartpole BATCHES=4 LEARNER_PRESETS=cartpole \
#       COMPILE_PRESETS=cartpole COMPILE_BATCHES=4 \
#       OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh        # a quick dry run on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
DEVICE=${DEVICE:-cuda}
REPEATS=${REPEATS:-5}
BATCHES=${BATCHES:-1 4 256 1536}
SEARCH_PRESETS=${SEARCH_PRESETS:-dmc_state atari cartpole pendulum dmc_image_small atari_small}
LEARNER_PRESETS=${LEARNER_PRESETS:-cartpole pendulum dmc_state dmc_image_small atari_small atari}
COMPILE_PRESETS=${COMPILE_PRESETS:-dmc_state atari}
COMPILE_BATCHES=${COMPILE_BATCHES:-256 1536}
PY=${PYTHON:-python3}

if [ -d .whl ]; then  # packages the GPU machine lacks, carried as wheels (DEVELOPERS.md)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
"$PY" -c "import torch; print('torch', torch.__version__, '| device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

# shellcheck disable=SC2086  # the lists split into arguments on purpose
timeout 240 "$PY" -m ezv2_lite.cli bench search --device "$DEVICE" --presets $SEARCH_PRESETS \
    --batches $BATCHES --repeats "$REPEATS" --out "$OUT/search-$DEVICE.json"
# shellcheck disable=SC2086
timeout 120 "$PY" -m ezv2_lite.cli bench learner --device "$DEVICE" --replay synthetic \
    --presets $LEARNER_PRESETS --repeats "$REPEATS" --transitions 1000 --out "$OUT/learner-$DEVICE.json"
# last, and allowed to fail: compiling has never been timed on a GPU, and the files above are kept
# shellcheck disable=SC2086
timeout 120 "$PY" -m ezv2_lite.cli bench search --device "$DEVICE" --compile-step --presets $COMPILE_PRESETS \
    --batches $COMPILE_BATCHES --repeats "$REPEATS" --out "$OUT/search-compiled-$DEVICE.json" \
    || echo "the compiled-step benchmark did not finish (exit $?): search-compiled-$DEVICE.json is missing"
