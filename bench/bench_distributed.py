"""Data-parallel char-LM step: samples per second with 1 and 2 ranks (DistributedDataParallel
over MPI), and the time each step waits for the gradient all-reduce.

Weak scaling: every rank trains on its own B rows of T symbols, so 2 ranks process twice the
samples per step; the speed-up is (samples/s with 2 ranks) / (samples/s with 1). The step is
the CLI's: Embedding -> LSTM -> Linear, cross-entropy, backward, gradient clipping, Adam.

    python bench/bench_distributed.py                    # launches mpiexec -n 1 and -n 2 itself
    python bench/bench_distributed.py --batch 32 --seq-len 64 --hidden 256 --steps 30

One BLAS thread per rank (OPENBLAS_NUM_THREADS=1) so 2 ranks use the 2 cores without
oversubscribing them. On a machine shared with other work the ranks compete for the cores
too: compare the two rows of one run, not runs of different times.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def rank_main(args) -> None:
    import numpy as np
    import tinygrad_rnn as tg
    import tinygrad_rnn.distributed as dist
    import tinygrad_rnn.functional as F
    from tinygrad_rnn.models import CharLM, detach_state
    from tinygrad_rnn.nn.parallel import DistributedDataParallel
    from tinygrad_rnn.nn.utils import clip_grad_norm_
    dist.init()
    tg.manual_seed(0)
    model = CharLM(vocab_size=65, cell="lstm", hidden_size=args.hidden, embedding_dim=64)
    ddp = DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    optimizer = tg.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(dist.rank())
    ids = tg.tensor(rng.integers(0, 65, (args.batch, args.seq_len * (args.steps + 1) + 1)),
                    dtype="int64")
    state, times = None, []
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            dist.barrier()
            dist.STATS.update(wait_seconds=0.0, reductions=0)
            started = time.perf_counter()
        offset = (step % args.steps) * args.seq_len
        x, y = ids[:, offset:offset + args.seq_len], ids[:, offset + 1:offset + args.seq_len + 1]
        logits, state = ddp(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, 65), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    dist.barrier()
    elapsed = time.perf_counter() - started
    report = dist.all_gather_object({"elapsed": elapsed, **dist.STATS})
    if dist.rank() == 0:
        print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="rows per rank")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--bucket-mb", type=float, default=25.0)
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--rank-main", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_main:
        return rank_main(args)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = mpiexec if os.path.exists(mpiexec) else shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit("bench_distributed: mpiexec not found; pip install 'tinygrad_rnn[mpi]'")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    print(f"char-LM step, LSTM H={args.hidden}, B={args.batch} rows per rank, T={args.seq_len}, "
          f"{args.steps} timed steps; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (shared: numbers vary run to run)")
    print(f"{'ranks':>5} {'samples/s':>10} {'speed-up':>9} {'ms/step':>8} "
          f"{'all-reduce wait ms/step':>24}")
    base = None
    for n in [int(r) for r in args.ranks.split(",")]:
        command = [mpiexec, "-n", str(n), sys.executable, os.path.abspath(__file__),
                   "--rank-main", *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode:
            sys.exit(f"bench_distributed: {n} ranks failed:\n{done.stderr}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        elapsed = max(r["elapsed"] for r in report)
        samples = n * args.batch * args.steps / elapsed
        base = base or samples
        wait = sum(r["wait_seconds"] for r in report) / n / args.steps * 1e3
        print(f"{n:>5} {samples:>10.1f} {samples / base:>8.2f}x {elapsed / args.steps * 1e3:>8.1f} "
              f"{wait:>24.1f}")


if __name__ == "__main__":
    main()
