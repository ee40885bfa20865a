"""DistributedDataParallel: a model replica whose gradients are averaged over the ranks after
backward, so each rank's optimizer takes the step the whole batch would give.

The parameters are split into *buckets* of about ``bucket_cap_mb`` megabytes, in reverse
order (the gradients of the last layers arrive first). A hook on each parameter copies its
accumulated gradient (``.grad`` plus this backward's part, as torch reduces ``.grad``) into its
bucket's flat buffer; a bucket whose gradients have all arrived starts a
non-blocking all-reduce (buckets start in a fixed order, the same on every rank). When the
last parameter's gradient arrives every reduction is waited for and the averages written to
``.grad``, so ``optimizer.step()`` right after ``backward()`` sees them.

How much communication overlaps computation is set by the engine: it runs leaf hooks once the
backward walk is over, so the reductions overlap only with the later buckets' copies, not with
the VJPs (an engine delivering leaf gradients early would overlap more, with no change here).
"""
from __future__ import annotations

from contextlib import contextmanager

from .. import distributed as dist
from ..backends import backend_for
from ..tensor import Tensor
from .module import Module


class _Bucket:
    def __init__(self, params: list, xp, dtype):
        self.params = params                      # [(index, name, parameter)]
        self.offsets, total = {}, 0
        for index, _, p in params:
            self.offsets[index] = (total, p.data.size)
            total += p.data.size
        self.flat = xp.zeros(total, dtype=dtype)
        self.reset()

    def reset(self) -> None:
        self.waiting = {index for index, _, _ in self.params}
        self.accumulated: set = set()             # had a .grad before this backward
        self.unused: set = set()                  # no gradient here (finish())
        self.work = None


class DistributedDataParallel(Module):
    """``torch.nn.parallel.DistributedDataParallel`` over ``tinygrad_rnn.distributed``:
    checks that every rank holds the same parameter shapes (naming the first that differs),
    copies rank 0's parameters to all, and averages gradients after each backward."""

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0):
        super().__init__()
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        self.module = module
        dist.check_same_shapes(module, "DistributedDataParallel")
        dist.broadcast_parameters(module, root=0)
        self.bucket_cap_mb = bucket_cap_mb
        self._sync = True
        trained = [(i, name, p) for i, (name, p) in enumerate(module.named_parameters())
                   if p.requires_grad]
        self._buckets = _make_buckets(list(reversed(trained)), bucket_cap_mb * 2 ** 20)
        self._bucket_of = {index: b for b in self._buckets for index, _, _ in b.params}
        self._hooks = [p.register_hook(self._hook_for(index)) for index, _, p in trained]
        self._expected = len(trained)
        self._begin()

    def forward(self, *args, **kwargs):
        if self._arrived:
            missing = [name for b in self._buckets for index, name, _ in b.params
                       if index in b.waiting]
            raise RuntimeError(
                "DistributedDataParallel: the last backward gave no gradient to "
                f"{', '.join(missing)}, so the gradients were not averaged yet; call finish() "
                "after backward when some parameters are unused (their gradient counts as 0)")
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self):
        """Backward inside this block only accumulates local gradients (gradient
        accumulation); the first backward after it averages the sum."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    # ------------------------------------------------------------ the reduction
    def _begin(self) -> None:
        self._arrived, self._next = 0, 0
        for bucket in self._buckets:
            bucket.reset()

    def _hook_for(self, index: int):
        def hook(grad: Tensor):
            if not self._sync:
                return None
            return self._arrive(index, grad)
        return hook

    def _arrive(self, index: int, grad: Tensor):
        bucket = self._bucket_of[index]
        if index not in bucket.waiting:
            raise RuntimeError("DistributedDataParallel: a parameter received two gradients in "
                               "one backward before the average was taken; call finish() "
                               "between backward passes")
        self._gather(bucket, index, grad.data)
        self._arrived += 1
        self._launch_ready()
        if self._arrived < self._expected:
            return None
        return self._complete(current=index)

    @staticmethod
    def _gather(bucket: _Bucket, index: int, local) -> None:
        """Put the parameter's accumulated gradient (its .grad plus this backward's ``local``
        part) in its slot of the bucket, as torch reduces .grad after gradient accumulation."""
        p = next(p for i, _, p in bucket.params if i == index)
        start, size = bucket.offsets[index]
        slot = bucket.flat[start:start + size]
        if p.grad is not None:
            bucket.accumulated.add(index)
            slot[...] = p.grad.data.reshape(-1)
            if local is not None:
                slot += local.reshape(-1)
        elif local is not None:
            slot[...] = local.reshape(-1)
        else:
            slot[...] = 0
        bucket.waiting.discard(index)

    def _launch_ready(self) -> None:
        """Start the all-reduce of each full bucket, in bucket order (the same on all ranks:
        MPI matches collectives by their order)."""
        while self._next < len(self._buckets) and not self._buckets[self._next].waiting:
            bucket = self._buckets[self._next]
            bucket.work = dist.all_reduce_array(
                bucket.flat, "mean", f"DistributedDataParallel: all-reduce of bucket "
                f"{self._next} ({', '.join(name for _, name, _ in bucket.params)})")
            self._next += 1

    def finish(self) -> None:
        """Average the gradients now (the last hook does it by itself when every parameter
        got a gradient); parameters without a gradient in this backward count as zeros."""
        if not self._arrived:
            return
        for bucket in self._buckets:
            for index in list(bucket.waiting):
                bucket.unused.add(index)
                self._gather(bucket, index, None)
        self._launch_ready()
        self._complete(current=None)

    def _complete(self, current):
        """Wait for every bucket and write the averages to ``.grad``; returns the average for
        ``current``, whose ``.grad`` the engine writes after its hook."""
        result = None
        for bucket in self._buckets:
            bucket.work.wait()
            for index, _, p in bucket.params:
                start, size = bucket.offsets[index]
                mean = bucket.flat[start:start + size].reshape(p.data.shape)
                if index == current:        # the engine adds what the hook returns to .grad
                    result = Tensor._make(mean - p.grad.data if index in bucket.accumulated
                                          else mean.copy())
                elif p.grad is not None:
                    p.grad.data[...] = mean
                    p.grad._bump()
                elif not (index in bucket.unused and not mean.any()):   # unused on every rank
                    p.grad = Tensor._make(mean.copy())
        self._begin()
        return result


def _make_buckets(params: list, cap_bytes: float) -> list:
    """Consecutive parameters of one dtype and device, up to ``cap_bytes`` per bucket (a
    parameter larger than the cap gets a bucket of its own)."""
    buckets, current, size, kind = [], [], 0, None
    for entry in params:
        p = entry[2]
        this_kind = (str(p.dtype), p.device)
        if current and (this_kind != kind or size + p.data.nbytes > cap_bytes):
            buckets.append(current)
            current, size = [], 0
        current.append(entry)
        size += p.data.nbytes
        kind = this_kind
    if current:
        buckets.append(current)
    return [_Bucket(b, backend_for(b[0][2].data).xp, b[0][2].data.dtype) for b in buckets]
