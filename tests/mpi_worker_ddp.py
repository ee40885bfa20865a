"""Run under ``mpiexec -n W python tests/mpi_worker_ddp.py MODE OUT`` by tests/test_distributed.py.

MODE train: an LSTM + Linear model, float64, 5 SGD steps then 5 Adam steps on rank's shard of
one fixed batch through DistributedDataParallel; rank 0 writes the parameters to OUT (.npz).
MODE die / raise / stuck: rank 1 dies (os._exit), raises or sleeps before the first all-reduce; rank 0 must
not hang. MODE unused: finish() and no_sync() (prints what it checks). MODE mismatch: rank 1's model is wider; DistributedDataParallel must say which
parameter differs.
"""
import os
import sys
import time

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
import tinygrad_rnn.functional as F
from tinygrad_rnn.models import LSTM
from tinygrad_rnn.nn.parallel import DistributedDataParallel

BATCH, STEPS, INPUT, HIDDEN = 8, 6, 3, 5


class Tagger(tg.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = LSTM(INPUT, hidden, batch_first=True, dtype="float64")
        self.head = tg.nn.Linear(hidden, 2, dtype="float64")

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)


def main(mode: str, out: str) -> None:
    dist.init(timeout=float(os.environ.get("WORKER_TIMEOUT", "60")))
    me = dist.rank()
    tg.manual_seed(1234 + me)           # different starts: broadcast_parameters must unify them
    model = Tagger(HIDDEN + (1 if mode == "mismatch" and me == 1 else 0))
    if mode == "mismatch":
        try:
            DistributedDataParallel(model)
        except RuntimeError as why:
            print(f"rank {me}: {why}", flush=True)
            sys.exit(3)
        sys.exit(0)
    if mode == "unused":
        return unused_and_no_sync(model)
    ddp = DistributedDataParallel(model, bucket_cap_mb=float(os.environ.get("BUCKET_MB", "0.0005")))
    rng = np.random.default_rng(7)
    x_all = tg.tensor(rng.standard_normal((BATCH, STEPS, INPUT)), dtype="float64")
    y_all = tg.tensor(rng.integers(0, 2, (BATCH, STEPS)), dtype="int64")
    x, y = dist.shard_batch(x_all), dist.shard_batch(y_all)
    if mode in ("die", "raise", "stuck") and me == 1:
        if mode == "die":
            os._exit(7)
        if mode == "stuck":
            time.sleep(1000)
        raise ValueError("rank 1 fails on purpose")
    for optimizer, steps in ((tg.optim.SGD(model.parameters(), lr=0.5, momentum=0.9), 5),
                             (tg.optim.Adam(model.parameters(), lr=0.01), 5)):
        for _ in range(steps):
            optimizer.zero_grad()
            loss = F.cross_entropy(ddp(x).reshape(-1, 2), y.reshape(-1))
            loss.backward()
            optimizer.step()
    if me == 0:
        np.savez(out, **{name: p.detach().numpy() for name, p in model.named_parameters()})


def unused_and_no_sync(model) -> None:
    """A parameter without gradient: the next forward names it until finish() is called;
    no_sync accumulates locally and the next synced backward averages the sum."""
    model.spare = tg.nn.Linear(2, 2, dtype="float64")      # never used by forward
    ddp = DistributedDataParallel(model)
    me = dist.rank()
    x = tg.full((2, STEPS, INPUT), float(me + 1), dtype="float64")
    ddp(x).sum().backward()
    try:
        ddp(x)
    except RuntimeError as why:
        print(f"rank {me}: {why}", flush=True)
    ddp.finish()
    grads = [p.grad.numpy() for p in model.lstm.parameters()]
    everyone = dist.all_gather_object(grads)
    print(f"rank {me}: same after finish: {all(np.array_equal(a, b) for a, b in zip(*everyone))}")
    print(f"rank {me}: spare grad None: {model.spare.weight.grad is None}")
    for p in model.parameters():
        p.grad = None
    with ddp.no_sync():
        ddp(x).sum().backward()
    local = [p.grad.numpy().copy() for p in model.head.parameters()]
    ddp(x).sum().backward()
    ddp.finish()
    mean_of_sums = [(a + b) / 2 for a, b in zip(*dist.all_gather_object([2 * g for g in local]))]
    print(f"rank {me}: no_sync then sync averages the sum: "
          f"{all(np.allclose(p.grad.numpy(), m, rtol=1e-12) for p, m in zip(model.head.parameters(), mean_of_sums))}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
