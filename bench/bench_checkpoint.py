"""Gradient checkpointing over T = 1,000 steps: peak memory and time against the segment size k.

An RNN and an LSTM (the cells stepped one by one, as the composed layers do) run forward and
backward over T steps with a loss on every step (summed inside each segment). Without checkpointing the tape keeps every
step's intermediate values: memory O(T). With tg.checkpoint on segments of k steps it keeps
the T/k segment boundaries, plus one segment's values while backward recomputes it:
O(T/k + k), smallest near k = sqrt(T), for about one extra forward pass.

Each configuration runs in a fresh process; memory is that process's peak RSS (VmHWM) minus
its RSS just before the first step (the interpreter, NumPy and the weights), over 3 steps.

    python bench/bench_checkpoint.py [--steps 1000] [--batch 16] [--hidden 128] [--plot docs/checkpoint_memory.png]
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_one(cell: str, steps: int, batch: int, hidden: int, every: int | None,
            repeats: int = 3) -> dict:
    """Forward + backward ``repeats`` times in this process; peak memory and the best time."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import LSTMCell, RNNCell
    tg.manual_seed(0)
    module = (LSTMCell if cell == "lstm" else RNNCell)(hidden, hidden)
    x = tg.randn(steps, batch, hidden)
    target = tg.randn(steps, batch, hidden)

    def segment(xs, ys, *state):
        """Steps over xs (k, B, H) from ``state``: the new state and the segment's loss (inside
        the segment, so the steps' outputs are recomputed too, not kept for the loss)."""
        total = 0.0
        for t in range(xs.shape[0]):
            out = module(xs[t], state if cell == "lstm" else state[0])
            state = out if cell == "lstm" else (out,)
            total = total + ((state[0] - ys[t]) ** 2).mean()
        return (*state, total)

    def loss():
        state = (tg.zeros(batch, hidden),) * (2 if cell == "lstm" else 1)
        total, size = 0.0, every or steps
        for start in range(0, steps, size):
            xs, ys = x[start:start + size], target[start:start + size]
            if every:
                *state, part = tg.checkpoint(segment, xs, ys, *state)
            else:
                *state, part = segment(xs, ys, *state)
            total = total + part
        return total

    before = _rss_kb("VmRSS")
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        loss().backward()
        best = min(best, time.perf_counter() - start)
        module.zero_grad()
    return {"peak_mb": (_rss_kb("VmHWM") - before) / 1024, "seconds": best}


def measure(cell: str, steps: int, batch: int, hidden: int, every) -> dict:
    """run_one in a fresh Python process (so each peak RSS starts from nothing)."""
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
            f"import bench_checkpoint as b; print(json.dumps(b.run_one({cell!r}, {steps}, "
            f"{batch}, {hidden}, {every!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def segment_sizes(steps: int) -> list:
    root = round(math.sqrt(steps))
    return [None, 1, 10, 32, root] if root != 32 else [None, 1, 10, 32, 100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--plot", type=Path, default=None, help="write the memory curve here")
    args = parser.parse_args()
    sizes = segment_sizes(args.steps)
    results = {}
    print(f"T = {args.steps}, batch {args.batch}, hidden {args.hidden}, float32; "
          f"sqrt(T) = {math.sqrt(args.steps):.1f}")
    print(f"{'cell':<5} {'k':>6} {'peak MB':>9} {'time s':>8} {'memory':>8} {'time':>6}")
    for cell in ("rnn", "lstm"):
        base = None
        for every in sizes:
            found = measure(cell, args.steps, args.batch, args.hidden, every)
            results[(cell, every)] = found
            base = base or found
            label = "none" if every is None else str(every)
            print(f"{cell:<5} {label:>6} {found['peak_mb']:>9.1f} {found['seconds']:>8.3f} "
                  f"{found['peak_mb'] / base['peak_mb']:>7.2f}x "
                  f"{found['seconds'] / base['seconds']:>5.2f}x", flush=True)
    if args.plot:
        plot(results, sizes, args, args.plot)
        print(f"wrote {args.plot}")


def plot(results: dict, sizes: list, args, path: Path) -> None:
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ks = [k for k in sizes if k is not None]
    figure, (memory, seconds) = plt.subplots(1, 2, figsize=(10, 4))
    for cell, colour in (("rnn", "tab:blue"), ("lstm", "tab:orange")):
        memory.plot(ks, [results[(cell, k)]["peak_mb"] for k in ks], "o-", color=colour,
                    label=f"{cell.upper()}, checkpoint every k")
        memory.axhline(results[(cell, None)]["peak_mb"], color=colour, ls="--",
                       label=f"{cell.upper()}, no checkpointing")
        seconds.plot(ks, [results[(cell, k)]["seconds"] for k in ks], "o-", color=colour,
                     label=cell.upper())
        seconds.axhline(results[(cell, None)]["seconds"], color=colour, ls="--")
        # least squares fit of a T/k + b k to the measured points: the O(T/k + k) model
        columns = np.array([[args.steps / k, k] for k in ks], dtype=float)
        (a, b), *_ = np.linalg.lstsq(columns, [results[(cell, k)]["peak_mb"] for k in ks],
                                      rcond=None)
        grid = np.geomspace(ks[0], ks[-1], 50)
        memory.plot(grid, a * args.steps / grid + b * grid, ":", color=colour,
                    label=f"fit {a * 1024:.0f} KB x T/k + {b * 1024:.0f} KB x k")
    memory.set(xscale="log", yscale="log", xlabel="segment size k (steps)",
               ylabel="peak memory above baseline (MB)",
               title=f"BPTT memory, T = {args.steps}: O(T) -> O(T/k + k)")
    seconds.set(xscale="log", xlabel="segment size k (steps)", ylabel="forward + backward (s)",
                title="time: about one extra forward pass")
    memory.axvline(math.sqrt(args.steps), color="gray", lw=0.5)
    memory.legend(fontsize=7)
    seconds.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
