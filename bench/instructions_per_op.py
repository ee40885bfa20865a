"""Per-op overhead as machine instructions: bench_per_op.py's chain (``x = x * 1.0001 +
0.0001`` on a (4,) float32 tensor, two ops a step) run under valgrind's callgrind, which
counts every instruction the process executes, Python's and NumPy's alike.

Timings of one commit swing by 20-50% between processes on a shared machine; the count
swings by well under 0.1%, so it compares two commits where timing cannot. Each count is
the difference between a run of 1,250 steps and one of 250 (three rounds each), so start-up
and imports cancel out; the result is instructions per op, forward alone and forward plus
backward. To compare with an older commit, stage it as a package (as opcodes_per_op.py
says) and pass its folder:

    python bench/instructions_per_op.py [--against /tmp/old/pkg]

Needs ``valgrind`` on PATH (Debian: apt-get install valgrind); a run takes about a minute.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROUNDS, SHORT, LONG = 3, 250, 1250


def child(steps: int, backward: bool) -> None:
    """What valgrind runs: the chain, warmed up, then ROUNDS times."""
    import numpy as np
    import tinygrad_rnn as tg
    x0 = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)

    def chain(n):
        x = x0
        for _ in range(n):
            x = x * 1.0001 + 0.0001
        return x

    chain(10).sum().backward()          # first-call paths and imports, outside the difference
    for _ in range(ROUNDS):
        y = chain(steps)
        if backward:
            y.sum().backward()
        x0.grad = None


def instructions(package: str | None, steps: int, backward: bool) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
    if package is not None:
        env["PYTHONPATH"] = package
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", str(steps), "--backward" if backward else "--forward-only"],
        env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", result.stderr).group(1).replace(",", ""))


def per_op(packages: list) -> list:
    """(forward, forward + backward) instructions per op for each package, the valgrind runs
    side by side on the machine's cores (a count does not depend on the load)."""
    ops = ROUNDS * (LONG - SHORT) * 2
    runs = [(p, steps, b) for p in packages for b in (False, True) for steps in (LONG, SHORT)]
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        counts = dict(zip(runs, pool.map(lambda run: instructions(*run), runs)))
    return [tuple((counts[p, LONG, b] - counts[p, SHORT, b]) / ops for b in (False, True))
            for p in packages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="folder of a staged older package to compare with")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backward", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forward-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.backward)
        return
    if shutil.which("valgrind") is None:
        sys.exit("instructions_per_op: valgrind is not on PATH (apt-get install valgrind)")
    packages = [None] + ([args.against] if args.against else [])
    rows = list(zip(["this checkout"] + packages[1:], per_op(packages)))
    print(f"{'tinygrad_rnn':40s} {'forward':>10s} {'fwd+bwd':>10s}   instructions/op")
    for name, (forward, both) in rows:
        print(f"{name:40s} {forward:10.0f} {both:10.0f}")
    if len(rows) == 2:
        (_, (f_new, b_new)), (_, (f_old, b_old)) = rows
        print(f"{'this / against':40s} {f_new / f_old:10.3f} {b_new / b_old:10.3f}")


if __name__ == "__main__":
    main()
