"""Cache misses of a char-LM training step, fused layer against the hand-written NumPy step,
simulated by valgrind's cachegrind: the number that timing on a shared machine cannot resolve.

At (32, 32, 128) the fused RNN step ran 1.04-1.09x the NumPy step's time while it executed 2%
fewer instructions; what it did worse was miss the cache. A pass over a large array is cheap
when the array is still in the core's L2 (2 MB here) and costs a trip to L3 when not, so the
order in which a step touches its arrays matters as much as how many it makes.
Cachegrind counts, for one simulated cache of that size, the reads and writes that miss it,
per function (NumPy's ufunc loops, OpenBLAS's packing routines), and counts them the same on
every run: two commits compare by the count where their timings swing 10% between runs. It
simulates no prefetcher, so a count is an upper bound on what a streaming pass costs.

Each count is the difference of a run of LONG and one of SHORT steps, so start-up and imports
cancel; per training step. The table lists the functions whose misses differ most.

    OPENBLAS_NUM_THREADS=1 python bench/cache_misses_charlm.py [--cell rnn] [--size 32,32,128]

Needs ``valgrind`` on PATH (Debian: apt-get install valgrind); four valgrind runs, two at a
time: 8 minutes for the RNN at (32, 32, 128) here, 22 for the LSTM.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SHORT, LONG = 5, 25
EVENTS = ("Ir", "DLmr", "DLmw")     # instructions; reads and writes that miss the last level


def child(name: str, cell: str, B: int, T: int, H: int, steps: int) -> None:
    """What valgrind runs: one implementation's step (bench_charlm's), warmed up, ``steps``
    times."""
    sys.path.insert(0, HERE)
    from bench_charlm import batch, make_impl
    x, y = batch(B, T)
    step = make_impl(name, cell, H)
    for _ in range(3 + steps):
        step(x, y)


def per_function(path: str) -> dict:
    """{function: {event: count}} from a cachegrind output file (its ``fn=`` blocks)."""
    totals: dict = collections.defaultdict(lambda: collections.Counter())
    names, function = [], None
    with open(path) as lines:
        for line in lines:
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith("fn="):
                function = line[3:].strip()
            elif line[:1].isdigit() and function is not None:
                counts = line.split()[1:]
                for event, count in zip(names, counts):
                    if event in EVENTS:
                        totals[function][event] += int(count)
    return totals


def simulated(name: str, cell: str, size: tuple, steps: int, last_level: int, folder: str):
    out = os.path.join(folder, f"{name}.{steps}.out")
    subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--D1=49152,12,64",
         f"--LL={last_level},16,64", f"--cachegrind-out-file={out}", sys.executable,
         os.path.abspath(__file__), "--child", name, "--cell", cell,
         "--size", ",".join(map(str, size)), "--steps", str(steps)],
        check=True, capture_output=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return per_function(out)


def per_step(long: dict, short: dict) -> dict:
    return {fn: {e: (long[fn][e] - short.get(fn, {}).get(e, 0)) / (LONG - SHORT) for e in EVENTS}
            for fn in long}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", default="rnn", choices=("rnn", "gru", "lstm"))
    parser.add_argument("--size", default="32,32,128", help="B,T,H")
    parser.add_argument("--cache-bytes", type=int, default=2 * 2**20,
                        help="the simulated last-level cache (this machine's L2 per core: 2 MB)")
    parser.add_argument("--rows", type=int, default=12, help="functions listed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(","))
    if args.child:
        return child(args.child, args.cell, *size, args.steps)
    if shutil.which("valgrind") is None:
        sys.exit("cache_misses_charlm: valgrind is not on PATH (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(2) as pool:
        runs = {(name, steps): pool.submit(simulated, name, args.cell, size, steps,
                                           args.cache_bytes, folder)
                for name in ("fused", "numpy") for steps in (SHORT, LONG)}
        steps = {name: per_step(runs[name, LONG].result(), runs[name, SHORT].result())
                 for name in ("fused", "numpy")}
    fused, numpy_step = steps["fused"], steps["numpy"]
    zero = dict.fromkeys(EVENTS, 0.0)
    misses = lambda row: row["DLmr"] + row["DLmw"]  # noqa: E731
    print(f"{args.cell} {args.size}, a simulated {args.cache_bytes / 2**20:g} MB last-level cache, "
          f"per training step ({LONG} - {SHORT} steps)")
    for name, table in steps.items():
        total = {e: sum(row[e] for row in table.values()) for e in EVENTS}
        print(f"  {name:6s} instructions {total['Ir'] / 1e6:6.2f} M   misses: read "
              f"{total['DLmr'] / 1e3:6.1f} k  write {total['DLmw'] / 1e3:6.1f} k  all "
              f"{misses(total) / 1e3:6.1f} k")
    print(f"  {'function':42s} {'fused read':>10s} {'write':>7s} {'numpy read':>10s} {'write':>7s}")
    worst = sorted(set(fused) | set(numpy_step), key=lambda fn: -abs(
        misses(fused.get(fn, zero)) - misses(numpy_step.get(fn, zero))))
    for fn in worst[:args.rows]:
        a, b = fused.get(fn, zero), numpy_step.get(fn, zero)
        print(f"  {fn.split(':')[-1][:42]:42s} {a['DLmr']:10.0f} {a['DLmw']:7.0f} "
              f"{b['DLmr']:10.0f} {b['DLmw']:7.0f}")


if __name__ == "__main__":
    main()
