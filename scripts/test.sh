#!/usr/bin/env bash
# The test command: set up .venv (and dot), then run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
# Tests check correctness, not speed: one BLAS thread each keeps the suite's time steady on a
# shared 2-core machine, where OpenBLAS's spinning threads slow small products 10-20x.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
