#!/usr/bin/env bash
# The main job: set up .venv (and Graphviz's dot), train the default character-level LSTM on
# tiny-shakespeare briefly, print samples as it learns, sample from the checkpoint, and
# render the model's unrolled graph. Everything is written to a fresh out/run-* folder (or
# to $OUT_DIR, reused).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
STEPS="${STEPS:-300}"
# Never wipe an earlier run: a fresh folder each time, unless OUT_DIR names one to reuse.
if [ -n "${OUT_DIR:-}" ]; then
  REPLACE="--overwrite"
  echo "main: reusing OUT_DIR=$OUT_DIR, as asked (a checkpoint there is replaced)"
else
  mkdir -p out
  OUT_DIR="$(mktemp -d "out/run-$(date +%Y%m%d-%H%M%S)-XXXX")"
  REPLACE=""
  echo "main: writing to a fresh folder, $OUT_DIR (set OUT_DIR=... to reuse one)"
fi
tinygrad-rnn train charlm --steps "$STEPS" --sample-every 100 --eval-every 100 --out "$OUT_DIR" $REPLACE
tinygrad-rnn sample "$OUT_DIR/charlm.ckpt" --prime "ROMEO:" --length 300
tinygrad-rnn graph --checkpoint "$OUT_DIR/charlm.ckpt" --steps 4 --fused --out "$OUT_DIR"
tinygrad-rnn graph --cell lstm --steps 3 --gradients --out "$OUT_DIR/lstm"
echo "done: checkpoint, samples and graphs are in $OUT_DIR/"
