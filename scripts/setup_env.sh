#!/usr/bin/env bash
# Creates .venv (if missing), installs tinygrad_rnn with its dev extra into it, and installs
# Graphviz's `dot` where it is missing and the machine lets us. Sourced by test.sh and main.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
VENV_PY="$ROOT/.venv/bin/python"
"$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
"$VENV_PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]"
if ! command -v dot >/dev/null 2>&1; then
  echo "setup: Graphviz's dot is missing; trying to install it (needed to render graphs)" >&2
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    { $SUDO apt-get install -y -q graphviz || { $SUDO apt-get update -q && $SUDO apt-get install -y -q graphviz; }; } >/dev/null 2>&1 \
      || echo "setup: could not install graphviz; rendering tests will skip (install it with your package manager)" >&2
  elif command -v brew >/dev/null 2>&1; then
    brew install graphviz >/dev/null || true
  else
    echo "setup: no apt-get or brew; install Graphviz by hand to render graphs" >&2
  fi
fi
export PATH="$ROOT/.venv/bin:$PATH"
