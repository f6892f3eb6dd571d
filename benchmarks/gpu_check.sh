#!/usr/bin/env bash
# The GPU check, as JSON and a JUnit file in $OUT (its console output is the log): the CUDA
# tests (tests/test_cuda.py), one batched search and one learner step of each preset timed
# with the device synchronised (the pixel presets' learner step twice: frames on the GPU,
# and on the host behind pinned buffers), a faithful `atari` training run on Pong for a
# fixed wall time (its env steps and learner steps per second), and the search with its
# model step compiled (runtime.compile_step: CUDA graphs). Each command has its own time
# limit (about 8 minutes in all) and a failure loses none of the others' files. How to run it
# where a GPU is at hand: DEVELOPERS.md.
#
#   OUT=benchmarks/results bash benchmarks/gpu_check.sh
#   DEVICE=cpu REPEATS=1 SEARCH_PRESETS=cartpole BATCHES=4 LEARNER_PRESETS=cartpole \
#       PIXEL_PRESETS=cartpole COMPILE_PRESETS=cartpole COMPILE_BATCHES=4 \
#       STEPS="tests search learner learner-frames-on-host compiled" \
#       OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh        # a quick dry run on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
DEVICE=${DEVICE:-cuda}
REPEATS=${REPEATS:-5}
BATCHES=${BATCHES:-1 256 1536}
SEARCH_PRESETS=${SEARCH_PRESETS:-dmc_state atari dmc_image_small minatar cartpole}
LEARNER_PRESETS=${LEARNER_PRESETS:-cartpole pendulum dmc_state dmc_image_small minatar atari dmc_image}
PIXEL_PRESETS=${PIXEL_PRESETS:-dmc_image_small minatar atari dmc_image}
COMPILE_PRESETS=${COMPILE_PRESETS:-dmc_state atari}
COMPILE_BATCHES=${COMPILE_BATCHES:-256 1536}
TRAIN_SECONDS=${TRAIN_SECONDS:-170}
TRAIN_ARGS=${TRAIN_ARGS:---preset atari --env.name Pong}
STEPS=${STEPS:-tests search learner learner-frames-on-host train compiled}  # which of them to run
PY=${PYTHON:-python3}

if [ -d .whl ] && ! "$PY" -c "import tyro, gymnasium, ale_py" 2>/dev/null; then
    # packages the GPU machine lacks, carried as wheels (DEVELOPERS.md)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
"$PY" -c "import torch; print('torch', torch.__version__, '| device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

failed=()
step() {  # step NAME SECONDS COMMAND...: run it under its limit; a failure is noted, not fatal
    local name=$1 limit=$2; shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    echo "== $name (at most ${limit} s)"
    timeout -s TERM -k 10 "$limit" "$@" || { echo "== $name failed (exit $?)"; failed+=("$name"); }
}

step tests 110 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py --junitxml="$OUT/test-cuda-$DEVICE.xml"
# shellcheck disable=SC2086  # the lists split into arguments on purpose
step search 75 "$PY" -m ezv2_lite.tools.cli bench search --device "$DEVICE" --presets $SEARCH_PRESETS \
    --batches $BATCHES --repeats "$REPEATS" --out "$OUT/search-$DEVICE.json"
# shellcheck disable=SC2086
step learner 90 "$PY" -m ezv2_lite.tools.cli bench learner --device "$DEVICE" --replay synthetic \
    --presets $LEARNER_PRESETS --repeats "$REPEATS" --transitions 1000 --out "$OUT/learner-$DEVICE.json"
# shellcheck disable=SC2086
step learner-frames-on-host 50 "$PY" -m ezv2_lite.tools.cli bench learner --device "$DEVICE" --replay synthetic \
    --frames cpu --presets $PIXEL_PRESETS --repeats "$REPEATS" --transitions 1000 \
    --out "$OUT/learner-frames-on-host-$DEVICE.json"
# a real run, stopped by SIGTERM at its limit (a checkpoint is written, as with Ctrl-C)
train_rate() {
    rm -rf /tmp/gpu-check-train
    # shellcheck disable=SC2086
    timeout -s TERM -k 30 "$TRAIN_SECONDS" "$PY" -m ezv2_lite.tools.cli train $TRAIN_ARGS \
        --device "$DEVICE" --seed 0 --train.log-every-env-steps 400 --train.eval-every-env-steps 400000 \
        --run-dir /tmp/gpu-check-train --no-progress || true
    "$PY" -m ezv2_lite.tools.cli bench train-rate /tmp/gpu-check-train --out "$OUT/train-rate-$DEVICE.json"
}
export -f train_rate && export PY DEVICE TRAIN_SECONDS TRAIN_ARGS OUT
step train $((TRAIN_SECONDS + 60)) bash -c train_rate
# last: compiling has never been timed on a GPU
# shellcheck disable=SC2086
step compiled 50 "$PY" -m ezv2_lite.tools.cli bench search --device "$DEVICE" --compile-step --presets $COMPILE_PRESETS \
    --batches $COMPILE_BATCHES --repeats "$REPEATS" --out "$OUT/search-compiled-$DEVICE.json"
echo "gpu check done; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
