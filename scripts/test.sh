#!/usr/bin/env bash
# The test command: set up .venv (and dot), the test-only extras (torch, MPI, chromium),
# then run the whole test suite.
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
# Only the tests need these two (the main job does not):
# The mpi extra (mpi4py + the mpich wheel) for the distributed tests; they skip without it.
"$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev,mpi]" >/dev/null 2>&1 \
  || echo "setup: could not install the mpi extra (mpi4py, mpich); the distributed tests will skip" >&2
# chromium + chromium-driver: the interactive viewer's tests drive a real headless browser
if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/bin/chromedriver ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    { $SUDO apt-get install -y -q chromium chromium-driver || { $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium chromium-driver; }; } >/dev/null 2>&1 \
      || echo "setup: could not install chromium and chromium-driver; the viewer's browser tests will skip" >&2
  else
    echo "setup: no apt-get; install chromium and chromedriver by hand for the viewer's browser tests" >&2
  fi
fi
# Tests check correctness, not speed: one BLAS thread each keeps the suite's time steady on a
# shared 2-core machine, where OpenBLAS's spinning threads slow small products 10-20x.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
