#!/usr/bin/env bash
# The main job: set up .venv (and dot), then run the README example end to end.
# (Once the command-line tool lands, this trains and samples the character-level model.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" examples/readme_example.py "$@"
