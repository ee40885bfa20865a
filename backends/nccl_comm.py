"""All-reduce of GPU arrays with NCCL through CuPy (``cupy.cuda.nccl``), for
``tinygrad_rnn.distributed``: the ranks agree on one NCCL id (sent over MPI by the caller) and
reduce on a stream of their own, so the reduction runs while the host goes on.

Unproven: written without a GPU at hand; no test runs it on CPU-only machines."""
from __future__ import annotations

from .base import BackendUnavailable



def _nccl():
    try:
        from cupy.cuda import nccl
    except ImportError as why:
        raise BackendUnavailable("distributed: GPU arrays are reduced with NCCL, which needs "
                                 "cupy built with NCCL (cupy.cuda.nccl)") from why
    return nccl


def make_nccl_communicator(share_id, rank: int, world: int):
    """A communicator for this rank; ``share_id(uid)`` returns rank 0's uid on every rank."""
    nccl = _nccl()
    uid = share_id(nccl.get_unique_id() if rank == 0 else None)
    import cupy
    return {"comm": nccl.NcclCommunicator(world, uid, rank),
            "stream": cupy.cuda.Stream(non_blocking=True)}


def _nccl_dtype(nccl, dtype):
    names = {"float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
             "float64": nccl.NCCL_FLOAT64, "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64}
    try:
        return names[str(dtype)]
    except KeyError:
        raise TypeError(f"distributed: NCCL cannot reduce {dtype} arrays") from None


def nccl_all_reduce(group: dict, array, mean: bool, world: int, what: str):
    """Start summing ``array`` in place over the ranks; the Work's wait() divides by the
    world size for a mean once the stream is done."""
    from tinygrad_rnn.distributed import Work
    import cupy
    nccl = _nccl()
    stream = group["stream"]
    stream.wait_event(cupy.cuda.get_current_stream().record())   # the gradient is written
    group["comm"].allReduce(array.data.ptr, array.data.ptr, array.size,
                            _nccl_dtype(nccl, array.dtype), nccl.NCCL_SUM, stream.ptr)

    def finish():
        stream.synchronize()
        if mean:
            array[...] /= world
    return Work(finish, what)
