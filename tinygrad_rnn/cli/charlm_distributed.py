"""What ``train charlm --distributed`` changes, under ``mpiexec -n W``: each rank trains on its
``B / W`` rows of the batch (DistributedDataParallel averages the gradients, so the steps are
those of one process on all B rows), and rank 0 alone prints, samples and writes checkpoints.

A checkpoint holds the whole batch's hidden state (gathered from the ranks) and the position in
the text of all B rows, so ``--resume`` works with any number of ranks, one included. Without
``--distributed`` every method here is the identity.
"""
from __future__ import annotations

import os
import sys


class _NoLock:
    """Ranks other than 0 write nothing, so they take no lock on --out."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass


class Replicas:
    def __init__(self, args):
        import tinygrad_rnn.distributed as dist
        self.dist, self.on = dist, bool(getattr(args, "distributed", False))
        if self.on:
            dist.init()
        self.rank, self.world = dist.rank(), dist.world_size()
        self.main = self.rank == 0
        if not self.main:                    # rank 0 alone prints progress and samples
            sys.stdout = open(os.devnull, "w")

    def lock(self, make_lock):
        return make_lock() if self.main else _NoLock()

    def check_batch(self, batch: int) -> None:
        if batch % self.world:
            raise ValueError(f"--batch {batch} does not split into {self.world} ranks; pass a "
                             f"multiple of {self.world}")

    def describe(self) -> str:
        return (f"; {self.world} ranks of {self.batch_rows} rows each" if self.on else "")

    def wrap(self, model):
        """The model each step calls: DistributedDataParallel around it when distributed."""
        if not self.on:
            return model
        from tinygrad_rnn.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model)

    def shard_rows(self, streams):
        """This rank's rows of the (B, N) batched text."""
        if not self.on:
            return streams
        self.batch_rows = streams.shape[0] // self.world
        return streams[self.dist.shard_range(streams.shape[0])]

    def shard_state(self, state):
        """This rank's rows of a whole-batch hidden state ((layers, B, H), or a tuple of them)."""
        if not self.on or state is None:
            return state
        if isinstance(state, tuple):
            return tuple(self.shard_state(s) for s in state)
        return state[:, self.dist.shard_range(state.shape[1])]

    def gather_state(self, state):
        """The whole batch's hidden state from every rank's rows (a collective: all ranks)."""
        if not self.on or state is None:
            return state
        import tinygrad_rnn as tg
        parts = state if isinstance(state, tuple) else (state,)
        everyone = self.dist.all_gather_object([p.numpy() for p in parts], "gather hidden state")
        whole = tuple(tg.cat([tg.tensor(rank_parts[i], device=p.device) for rank_parts in everyone],
                             dim=1) for i, p in enumerate(parts))
        return whole if isinstance(state, tuple) else whole[0]

    def mean_loss(self, value: float) -> float:
        """The whole batch's loss: the mean of the ranks' (equal-sized shards)."""
        return self._reduce(value, "mean")

    def any_rank(self, flag: bool) -> bool:
        """True on all ranks when it is true on one (e.g. a stop signal), so they stop together."""
        return self._reduce(float(flag), "sum") > 0 if self.on else flag

    def _reduce(self, value: float, op: str) -> float:
        if not self.on:
            return value
        import tinygrad_rnn as tg
        return self.dist.all_reduce(tg.tensor([value], dtype="float64"), op).item()

    def save(self, save_checkpoint, path: str, run: dict, step: int, state, losses: list) -> None:
        """Write the checkpoint with the whole batch's state, from rank 0 alone."""
        whole = self.gather_state(state)
        if self.main:
            save_checkpoint(path, run, step, whole, losses)
