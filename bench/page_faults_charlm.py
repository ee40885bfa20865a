"""Where a small char-LM step's time goes outside user space: minor page faults and kernel
(system) time per training step, for the fused layer and the hand-written NumPy step
(bench_charlm.py's steps, same weights), interleaved in one process.

A step allocates a few MB of arrays and frees them at its end. glibc's malloc then gives the
freed top of its heap back to the kernel (``M_TRIM_THRESHOLD``), so the next step touches
fresh pages again and the kernel zero-fills each one. At (32, 32, 128) that is about a fifth
of either step's time (RNN: 1.0 ms of 5.4 for the fused layer, 0.8 of 5.1 for NumPy's). The
second run sets glibc's trim and mmap thresholds to 256 MB in a fresh process
(``GLIBC_TUNABLES``): no page faults, every step about 30% faster, and the ratio between the
two steps about the same (1.05 and 1.06 in one run), so the faults do not explain the gap;
the fused step executes 2% fewer user-space instructions than NumPy's (valgrind). What was
left is cache misses: cache_misses_charlm.py counts them (77 thousand a step against NumPy's
41 before the sweeps' and Linear's VJPs were reordered, 61 after).
Setting those tunables is a cheap speed-up for a user's small-model training loop.

    OPENBLAS_NUM_THREADS=1 python bench/page_faults_charlm.py [--cell rnn] [--size 32,32,128]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

KEEP_FREED = "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=268435456"


def measure(cell: str, B: int, T: int, H: int, rounds: int) -> None:
    from bench_charlm import LR, VOCAB, NumpyCharLM, TinyStep, batch
    x, y = batch(B, T)
    tiny = TinyStep(cell, H, fused=True)
    numpy_step = NumpyCharLM(cell, VOCAB, H)
    numpy_step.load(tiny.state())
    steps = {"fused": lambda: tiny(x, y), "numpy": lambda: numpy_step.step(x, y, LR)}
    seen = {name: {"ms": [], "faults": 0, "sys": 0.0} for name in steps}
    for round_ in range(rounds + 3):             # the first three rounds warm up
        for name, step in steps.items():
            before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            step()
            elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
            if round_ >= 3:
                seen[name]["ms"].append(elapsed * 1e3)
                seen[name]["faults"] += after.ru_minflt - before.ru_minflt
                seen[name]["sys"] += (after.ru_stime - before.ru_stime) * 1e3
    median = {name: statistics.median(s["ms"]) for name, s in seen.items()}
    for name, s in seen.items():
        print(f"  {name:6s} {median[name]:8.3f} ms/step (median)  {s['faults'] / rounds:7.1f} "
              f"minor faults/step  {s['sys'] / rounds:6.3f} ms/step in the kernel  "
              f"{median[name] / median['numpy']:5.2f}x numpy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="rnn", choices=["lstm", "gru", "rnn"])
    parser.add_argument("--size", default="32,32,128", help="B,T,H")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    B, T, H = (int(v) for v in args.size.split(","))
    if args.child:
        measure(args.cell, B, T, H, args.rounds)
        return
    for title, tunables in (("glibc's defaults", None), (f"GLIBC_TUNABLES={KEEP_FREED}", KEEP_FREED)):
        print(f"{args.cell} (B, T, H) = ({B}, {T}, {H}), {title}:", flush=True)
        env = dict(os.environ)
        if tunables:
            env["GLIBC_TUNABLES"] = tunables
        subprocess.run([sys.executable, __file__, "--child", "--cell", args.cell,
                        "--size", args.size, "--rounds", str(args.rounds)], env=env, check=True)


if __name__ == "__main__":
    main()
