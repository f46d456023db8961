#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (or an AMD one with EMBER_GPU_EXTRA=rocm), in one command:
#   1. install ember with the GPU extra into .venv (reusing make's venv set-up),
#   2. show what ember sees (python -m ember),
#   3. run the whole test suite on cpu and the GPU (the conformance suite compares every
#      op on the GPU with the float64 numpy reference; tests/test_cuda_plugin.py too),
#   4. run the CPU and GPU benchmarks.
# Usage: benchmarks/gpu/run_gpu.sh [extra pytest args]      (from anywhere)
# Env:   EMBER_GPU_EXTRA=cuda|cuda13|rocm (default cuda); EMBER_GPU_DEVICE=cuda|rocm (default cuda)
#        SKIP_INSTALL=1 to use the current .venv as it is; SKIP_BENCH=1 to stop after the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
EXTRA="${EMBER_GPU_EXTRA:-cuda}"
DEVICE="${EMBER_GPU_DEVICE:-cuda}"
PY=.venv/bin/python

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    make venv                                   # .venv with the default extras
    "$PY" -m pip install --quiet -e ".[test,bench,$EXTRA]"
fi

echo "== ember sees:"
"$PY" -m ember | sed -n '1,/^$/p'
if ! "$PY" -c "import sys, ember.dispatch.registry as r; sys.exit(0 if r.REGISTRY.backend('$DEVICE').is_available() else 1)"; then
    echo "run_gpu.sh: device '$DEVICE' is not available here (see above); nothing to run on a GPU" >&2
    exit 2
fi

status=0
echo "== tests on cpu,$DEVICE"
EMBER_TEST_DEVICES="cpu,$DEVICE" EMBER_MPS_DEVICE="${EMBER_MPS_DEVICE:-cpu}" \
    "$PY" -m pytest tests -q -p no:cacheprovider "$@" || status=$?

if [ "${SKIP_BENCH:-0}" != 1 ]; then
    echo "== benchmarks"
    "$PY" -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,rounds -q \
        -p no:cacheprovider || status=$?
fi
exit $status
