"""Per-op overhead: a chain of 10,000 elementwise ops on a (4,) float32 tensor,
``x = x * 1.0001 + 0.0001`` 5,000 times, forward + backward.

Reported as microseconds per op next to the same arithmetic written by hand in NumPy
(forward loop, then the backward loop of the chain rule), and PyTorch eager when it is
importable, all in this one process. Also: a 50,000-op chain's backward time, and what the
profiler's hooks cost when no profile is open: the same chain with the current code and with
every ``STATE.profiler`` test compiled out (bench/profiler_compiled_out.py), in rounds of
short runs, as the median of the rounds' ratios (1.00: nothing measurable; the A/A ratio
printed beside it, the current code against itself, is the noise floor).

    python bench/bench_per_op.py [--repeats 7] [--profiler-off-only] [--off-repeats 300]

Timings on shared machines swing by up to 30% between runs: compare the ratios printed
in one run, not absolute numbers across runs.
"""
from __future__ import annotations

import argparse
import statistics
import time
from operator import truediv

import numpy as np

import tinygrad_rnn as tg
from profiler_compiled_out import compiled_out, reference

STEPS = 5_000          # each step is two ops: a multiply and an add
OPS = 2 * STEPS


def tinygrad_chain(steps: int = STEPS) -> float:
    x0 = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    start = time.perf_counter()
    x = x0
    for _ in range(steps):
        x = x * 1.0001 + 0.0001
    x.sum().backward()
    return time.perf_counter() - start


def numpy_chain() -> float:
    start = time.perf_counter()
    x = np.ones(4, dtype=np.float32)
    for _ in range(STEPS):
        x = x * np.float32(1.0001) + np.float32(0.0001)
    grad = np.ones(4, dtype=np.float32)
    for _ in range(STEPS):      # d(x * a + b)/dx = a, applied in reverse
        grad = grad * np.float32(1.0001)
        grad = grad + np.float32(0.0)   # the add's VJP passes the gradient through (one op)
    return time.perf_counter() - start


def torch_chain(torch) -> float:
    x0 = torch.ones(4, dtype=torch.float32, requires_grad=True)
    start = time.perf_counter()
    x = x0
    for _ in range(STEPS):
        x = x * 1.0001 + 0.0001
    x.sum().backward()
    return time.perf_counter() - start


def deep_chain_backward(length: int = 50_000) -> float:
    x = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    y = x
    for _ in range(length):
        y = y * 1.0001
    start = time.perf_counter()
    y.sum().backward()
    return time.perf_counter() - start


SHORT_STEPS = 500      # the profiler-cost chain: 1,000 ops, short so that many runs fit


def profiler_off_cost(repeats: int) -> None:
    """µs/op of the current code and of the reference without profiler tests on a short chain,
    many rounds; a third series runs the current code again (A/A: the noise floor). Each round
    runs the three in a rotated order (whichever runs later in a round is a little slower) and
    gives a ratio; the median of the rounds' ratios is steadier on a shared machine than a ratio
    of two bests, because the runs of one round share the machine's load."""
    rows = compiled_out()

    def plain() -> float:
        return tinygrad_chain(SHORT_STEPS)

    def compiled_out_run() -> float:
        with reference(rows):
            return tinygrad_chain(SHORT_STEPS)

    series = {"current": (plain, []), "compiled out": (compiled_out_run, []), "again": (plain, [])}
    names = list(series)
    for k in range(repeats):
        for name in names[k % 3:] + names[:k % 3]:
            run, times = series[name]
            times.append(run())
    current, without, again = (series[name][1] for name in names)
    ops = 2 * SHORT_STEPS
    removed = ", ".join(f"{name}: {count}" for _, name, _, _, count in rows)
    print(f"profiler hooks, no profile open ({ops:,}-op chain, {repeats} rounds; STATE.profiler "
          f"tests compiled out of the reference: {removed})")
    print(f"  best: current {min(current) / ops * 1e6:.2f} us/op, compiled out "
          f"{min(without) / ops * 1e6:.2f} us/op")
    print(f"  current / compiled out: {statistics.median(map(truediv, current, without)):.3f} "
          f"(median of rounds); current / itself (A/A, noise): "
          f"{statistics.median(map(truediv, current, again)):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profiler-off-only", action="store_true",
                        help="only the cost of the profiler's hooks with no profile open")
    parser.add_argument("--off-repeats", type=int, default=300,
                        help="runs of each series in that measurement")
    args = parser.parse_args()
    if args.profiler_off_only:
        tinygrad_chain()     # warm-up
        profiler_off_cost(args.off_repeats)
        return
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    runs = {"tinygrad_rnn": tinygrad_chain, "numpy (by hand)": numpy_chain}
    if torch is not None:
        runs[f"pytorch {torch.__version__} eager"] = lambda: torch_chain(torch)
    for run in runs.values():   # warm-up
        run()
    best = {name: [] for name in runs}
    for _ in range(args.repeats):           # interleaved, so load swings hit every engine
        for name, run in runs.items():
            best[name].append(run())
    ours = statistics.median(best["tinygrad_rnn"])
    print(f"chain of {OPS:,} ops on a (4,) float32 tensor, forward + backward, "
          f"median of {args.repeats}")
    print(f"{'engine':<28}{'us/op':>8}{'ours / it':>12}")
    for name, times in best.items():
        per_op = statistics.median(times) / OPS * 1e6
        print(f"{name:<28}{per_op:8.2f}{ours / statistics.median(times):12.2f}")
    deep = statistics.median(deep_chain_backward() for _ in range(3))
    print(f"50,000-op chain: backward in {deep:.3f} s (median of 3)")
    profiler_off_cost(args.off_repeats)


if __name__ == "__main__":
    main()
