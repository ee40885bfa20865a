#!/usr/bin/env bash
# The test command: set up .venv (and dot), then run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
# The parity extra (torch's CPU build) turns on the tests against PyTorch. Installed here,
# not in setup_env.sh, so the main job does not need it; where it cannot be installed the
# suite still runs, those tests skip, and the header of pytest's output says why.
PARITY="$("$ROOT/.venv/bin/python" -c 'import sys, tomllib; print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["parity"]))' "$ROOT/pyproject.toml")"
if ! PARITY_ERROR="$("$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check $PARITY 2>&1 >/dev/null)"; then
  echo "setup: could not install the parity extra ($PARITY): $(printf '%s\n' "$PARITY_ERROR" | grep -v '^WARNING' | head -n 1); the torch parity tests will skip" >&2
fi
# Tests check correctness, not speed: one BLAS thread each keeps the suite's time steady on a
# shared 2-core machine, where OpenBLAS's spinning threads slow small products 10-20x.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
