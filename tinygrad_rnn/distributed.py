"""Data-parallel training across processes (PyTorch's ``torch.distributed``, the small part a
data-parallel loop needs).

Each process (a *rank*) holds a replica of the model and computes the gradient of its shard of
the batch; an *all-reduce* then leaves every rank with the same sum (or mean) of all shards,
so the replicas take the same optimizer step and stay equal. Started with
``mpiexec -n 2 python train.py``; ``init()`` joins the ranks over MPI (mpi4py). Arrays on a GPU
(cupy) are reduced with NCCL through ``cupy.cuda.nccl`` instead, chosen by the array.

Nothing ever hangs silently: an uncaught exception on one rank aborts all of them (MPI
Abort), a rank that dies is cleaned up by ``mpiexec``, and every wait has a timeout
(``init(timeout=...)`` or ``TINYGRAD_RNN_DIST_TIMEOUT``) after which all ranks abort with a
message saying what was waited for.
"""
from __future__ import annotations

import os
import random
import sys
import time
from typing import Iterator

from .backends import backend_for
from .grad_mode import no_grad
from .tensor import Tensor

_STATE: dict = {"comm": None, "MPI": None, "timeout": 600.0, "nccl": None}
# seconds spent waiting for reductions (the communication backward did not hide), for bench/
STATS = {"wait_seconds": 0.0, "reductions": 0}
REDUCE_OPS = ("sum", "mean")


# ------------------------------------------------------------------ the process group
def init(timeout: float | None = None, abort_on_error: bool = True) -> None:
    """Join the ranks started by ``mpiexec`` (a no-op the second time). ``timeout``: seconds
    any rank waits for the others before all abort (default ``TINYGRAD_RNN_DIST_TIMEOUT`` or
    600). With ``abort_on_error``, an uncaught exception on any rank aborts every rank
    instead of leaving the others waiting in their next all-reduce."""
    if timeout is None:
        timeout = float(os.environ.get("TINYGRAD_RNN_DIST_TIMEOUT", "600"))
    if not timeout > 0:
        raise ValueError(f"distributed.init: timeout must be positive, got {timeout}")
    _STATE["timeout"] = float(timeout)
    if _STATE["comm"] is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as why:
        raise ImportError("distributed.init: needs mpi4py and an MPI library; install them with "
                          "pip install 'tinygrad_rnn[mpi]'") from why
    _STATE["MPI"], _STATE["comm"] = MPI, MPI.COMM_WORLD
    if abort_on_error:
        _install_abort_hook()


def is_initialized() -> bool:
    return _STATE["comm"] is not None


def rank() -> int:
    """This process's number, 0 .. world_size() - 1 (0 without ``init()``)."""
    return _STATE["comm"].Get_rank() if _STATE["comm"] is not None else 0


def world_size() -> int:
    """How many processes train together (1 without ``init()``)."""
    return _STATE["comm"].Get_size() if _STATE["comm"] is not None else 1


def _comm(what: str):
    if _STATE["comm"] is None:
        raise RuntimeError(f"{what}: call tinygrad_rnn.distributed.init() first")
    return _STATE["comm"]


_ABORT_GRACE = 0.5     # seconds for mpiexec to forward the last lines before Abort


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` and end every rank at once (MPI Abort)."""
    sys.stderr.write(f"tinygrad_rnn.distributed: rank {rank()} of {world_size()}: {message}; "
                     "aborting all ranks\n")
    sys.stderr.flush()
    if _STATE["comm"] is not None:
        # mpiexec forwards each rank's stderr through a pipe it reads on its own schedule, and
        # Abort kills the readers too: without a pause the line above can be lost (seen in CI).
        time.sleep(_ABORT_GRACE)
        _STATE["comm"].Abort(code)
    os._exit(code)


def _install_abort_hook() -> None:
    previous = sys.excepthook

    def abort_on_uncaught(kind, value, traceback):
        previous(kind, value, traceback)          # the traceback first, then the others go
        sys.stderr.flush()
        abort(f"uncaught {kind.__name__}: {value}")
    sys.excepthook = abort_on_uncaught


def _wait(request, what: str) -> None:
    """Wait for an MPI request, polling, and abort every rank past the timeout: a rank stuck
    or gone must not leave the others waiting forever."""
    if request.Test():
        return
    deadline, pause = time.monotonic() + _STATE["timeout"], 0.0
    while not request.Test():
        if time.monotonic() > deadline:
            abort(f"{what}: waited {_STATE['timeout']:g} s for the other ranks (one is stuck "
                  "or gone)")
        time.sleep(pause)
        pause = min(2 * pause + 1e-5, 1e-3)


def barrier(what: str = "barrier") -> None:
    """Wait until every rank gets here (bounded by the timeout)."""
    _wait(_comm(what).Ibarrier(), what)


def all_gather_object(obj, what: str = "all_gather_object") -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (picklable objects)."""
    comm = _comm(what)
    barrier(what)                  # the bounded wait; the gather itself then runs at once
    return comm.allgather(obj)


def broadcast_object(obj, root: int = 0, what: str = "broadcast_object"):
    comm = _comm(what)
    barrier(what)
    return comm.bcast(obj, root=root)


# ------------------------------------------------------------------ reductions on arrays
class Work:
    """A reduction in flight; ``wait()`` blocks until its result is in the array."""

    def __init__(self, wait, what: str):
        self._wait, self.what, self.done = wait, what, False

    def wait(self) -> None:
        if not self.done:
            started = time.perf_counter()
            self._wait()
            self.done = True
            STATS["wait_seconds"] += time.perf_counter() - started
            STATS["reductions"] += 1


def all_reduce_array(array, op: str = "sum", what: str = "all_reduce") -> Work:
    """Start reducing ``array`` (contiguous, in place) over all ranks; returns its Work. MPI
    for host arrays (a non-blocking Iallreduce), NCCL for GPU arrays."""
    comm = _comm(what)
    if op not in REDUCE_OPS:
        raise ValueError(f"{what}: op must be one of {REDUCE_OPS}, got {op!r}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{what}: the array must be contiguous")
    n = world_size()
    if backend_for(array).name == "cupy":
        from .backends.nccl_comm import nccl_all_reduce
        return nccl_all_reduce(_nccl(), array, mean=op == "mean", world=n, what=what)
    MPI = _STATE["MPI"]
    request = comm.Iallreduce(MPI.IN_PLACE, array, op=MPI.SUM)

    def finish():
        _wait(request, what)
        if op == "mean":
            array[...] /= n
    return Work(finish, what)


def _nccl():
    """The NCCL communicator of this process group (made the first time: rank 0's unique id
    travels to the others over MPI)."""
    if _STATE["nccl"] is None:
        from .backends.nccl_comm import make_nccl_communicator
        _STATE["nccl"] = make_nccl_communicator(
            lambda uid: broadcast_object(uid, 0, "NCCL setup"), rank(), world_size())
    return _STATE["nccl"]


def all_reduce(tensor: Tensor, op: str = "mean") -> Tensor:
    """Replace ``tensor``'s values, on every rank, by their sum or mean over the ranks
    (in place, as ``torch.distributed.all_reduce``); returns the tensor."""
    what = f"all_reduce of a tensor of shape {tuple(tensor.shape)}"
    if op == "mean" and tensor.dtype.kind not in "fc":
        raise TypeError(f"{what}: op='mean' needs a floating-point tensor, got {tensor.dtype}")
    data = tensor.data
    buffer = data if data.flags.c_contiguous else backend_for(data).xp.ascontiguousarray(data)
    all_reduce_array(buffer, op, what).wait()
    with no_grad():
        if buffer is not data:
            data[...] = buffer
        tensor._bump()
    return tensor


# ------------------------------------------------------------------ models
def check_same_shapes(module, what: str) -> None:
    """Raise on every rank, naming the first parameter or buffer whose shape or dtype differs
    between ranks (replicas must be the same model)."""
    mine = [(name, tuple(t.shape), str(t.dtype)) for name, t in module._state_items()]
    everyone = all_gather_object(mine, what)
    for other_rank, theirs in enumerate(everyone):
        if theirs == mine:
            continue
        names = dict((n, (s, d)) for n, s, d in theirs)
        for name, shape, dtype in mine:
            if names.get(name) != (shape, dtype):
                got = names.get(name)
                there = "no such parameter" if got is None else f"shape {got[0]} {got[1]}"
                raise RuntimeError(f"{what}: the model differs between ranks: parameter "
                                   f"{name!r} has shape {shape} {dtype} on rank {rank()} but "
                                   f"{there} on rank {other_rank}")
        extra = sorted(set(names) - {n for n, _, _ in mine})
        raise RuntimeError(f"{what}: the model differs between ranks: parameter {extra[0]!r} "
                           f"exists on rank {other_rank} but not on rank {rank()}")


def broadcast_parameters(module, root: int = 0) -> None:
    """Copy rank ``root``'s parameters and buffers into every other rank's ``module`` (in
    place), after checking that all ranks hold the same shapes."""
    what = "broadcast_parameters"
    comm = _comm(what)
    check_same_shapes(module, what)
    with no_grad():
        for name, tensor in module._state_items():
            data = tensor.data
            if backend_for(data).name == "cupy":
                host = backend_for(data).to_numpy(data).copy()
                _wait(comm.Ibcast(host, root=root), f"{what} of {name!r}")
                data[...] = backend_for(data).asarray(host, device=tensor.device)
            else:
                buffer = data if data.flags.c_contiguous else data.copy()
                _wait(comm.Ibcast(buffer, root=root), f"{what} of {name!r}")
                if buffer is not data:
                    data[...] = buffer
            tensor._bump()


# ------------------------------------------------------------------ each rank's shard
def shard_range(total: int, num_replicas: int | None = None, rank_: int | None = None) -> slice:
    """The rows ``[rank * total / W, (rank + 1) * total / W)`` of a batch of ``total`` rows;
    equal shards only, so the mean over ranks of each shard's mean loss is the whole batch's."""
    n = world_size() if num_replicas is None else num_replicas
    r = rank() if rank_ is None else rank_
    if total % n:
        raise ValueError(f"shard_range: a batch of {total} rows does not split into {n} equal "
                         f"shards; use a batch size divisible by the world size {n}")
    size = total // n
    return slice(r * size, (r + 1) * size)


def shard_batch(batch: Tensor, num_replicas: int | None = None, rank_: int | None = None) -> Tensor:
    """This rank's rows of ``batch`` (its first dimension split into equal shards)."""
    return batch[shard_range(batch.shape[0], num_replicas, rank_)]


class DistributedSampler:
    """Indices of a dataset for one rank (``torch.utils.data.DistributedSampler``): each epoch
    the indices 0..N-1, shuffled the same way on every rank (seed + epoch), padded by
    repeating the first ones to a multiple of the world size (or cut with ``drop_last``),
    then rank r takes every W-th starting at r."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.length = dataset if isinstance(dataset, int) else len(dataset)
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = globals()["rank"]() if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in "
                             f"[0, {self.num_replicas})")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        if drop_last:
            self.num_samples = self.length // self.num_replicas
        else:
            self.num_samples = -(-self.length // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Call at each epoch's start so each epoch is shuffled differently (on all ranks alike)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        indices = list(range(self.length))
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(indices)
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            while len(indices) < self.total_size:
                indices += indices[:self.total_size - len(indices)]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples
