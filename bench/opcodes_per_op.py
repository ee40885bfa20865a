"""Per-op overhead as a count, not a time: the Python bytecodes executed per op, forward and
backward, on bench_per_op.py's chain (``x = x * 1.0001 + 0.0001``, two ops a step), and the
functions that execute them.

On a shared machine, timings of one commit swing by 20% between processes, which hides the
changes (tens of nanoseconds each) that per-op work is made of. The count of bytecodes is the
same on every run and every machine, so two commits compare exactly:

    python bench/opcodes_per_op.py                       # this checkout
    git archive OLD | tar -x -C /tmp/old                 # an older commit, staged as a package
    (cd /tmp/old && mkdir pkg && cp -r tinygrad_rnn pkg/ && cp -r backends models pkg/tinygrad_rnn/)
    PYTHONPATH=/tmp/old/pkg python bench/opcodes_per_op.py

A bytecode is not a fixed cost (a call or an attribute read costs more than a jump) and the
NumPy work inside is not counted, so this ranks Python-level changes; bench_per_op.py says
what they are worth in microseconds.
"""
from __future__ import annotations

import argparse
import collections
import sys

import numpy as np

import tinygrad_rnn as tg


def chain(x0, steps: int):
    x = x0
    for _ in range(steps):
        x = x * 1.0001 + 0.0001
    return x


def counted(run) -> tuple:
    """(result of run(), Counter of bytecodes executed per (file, function))."""
    counts: collections.Counter = collections.Counter()

    def trace(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename, code.co_name)] += 1
        return trace

    sys.settrace(trace)
    try:
        result = run()
    finally:
        sys.settrace(None)
    return result, counts


def _short(path: str) -> str:
    marker = "tinygrad_rnn/"
    return path[path.rindex(marker) + len(marker):] if marker in path else path.rsplit("/", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--top", type=int, default=8, help="functions listed per pass")
    args = parser.parse_args()
    ops = 2 * args.steps
    x0 = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    chain(x0, 10).sum().backward()            # warm-up: imports and first-call paths
    x0.grad = None
    y, forward = counted(lambda: chain(x0, args.steps))
    total = y.sum()
    _, backward = counted(total.backward)
    print(f"tinygrad_rnn from {tg.__file__.rsplit('/', 2)[0]}: {ops:,}-op chain")
    for name, counts in (("forward", forward), ("backward", backward)):
        print(f"{name}: {sum(counts.values()) / ops:.1f} bytecodes/op")
        for (path, function), n in counts.most_common(args.top):
            print(f"  {n / ops:7.1f}  {_short(path)}:{function}")


if __name__ == "__main__":
    main()
