"""Gather and scatter-add along one axis (torch.gather / Tensor.scatter_add), each the other's
adjoint: y = gather(x, dim, index) picks y[i][j] = x[i][index[i][j]] (dim = 1), and its VJP
adds gy back at those positions; y = scatter_add(x, dim, index, src) adds src there, and its
VJP for src gathers gy.
"""
from __future__ import annotations

from ..backends import backend_for
from ..errors import OpError
from ..function import Function, needs_grad
from . import constant, xp_of, zeros_for


def _positions(index, dim: int) -> tuple:
    """Full NumPy index of the positions index names: index itself on ``dim``, each element's
    own coordinate on the other axes."""
    xp = xp_of(index)
    ndim = index.ndim
    return tuple(index if d == dim else
                 xp.arange(side).reshape(tuple(side if i == d else 1 for i in range(ndim)))
                 for d, side in enumerate(index.shape))


def _check(op: str, x, index, dim: int) -> int:
    if index.dtype.kind not in "iu":
        raise OpError(f"index must hold integers, got {index.dtype}")
    if index.ndim != x.ndim:
        raise OpError(f"index has {index.ndim} dims but the tensor has {x.ndim} (shape "
                      f"{tuple(x.shape)}); they must match")
    dim = dim % max(x.ndim, 1)
    for d, (i, s) in enumerate(zip(index.shape, x.shape)):
        if d != dim and i > s:
            raise OpError(f"index shape {tuple(index.shape)} is larger than {tuple(x.shape)} "
                          f"on dim {d}")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= x.shape[dim]):
        raise OpError(f"index values must lie in [0, {x.shape[dim]}) for dim {dim}, got "
                      f"{int(index.min())} to {int(index.max())}")
    return dim


class Gather(Function):
    """y = x gathered along ``dim`` at ``index`` (y has index's shape).
    gx = zeros like x with gy added at the gathered positions."""
    __slots__ = ("dim", "index")
    name, formula, saves_inputs = "gather", "gx = scatter_add(zeros(x.shape), dim, index, gy)", False

    def __init__(self, dim: int, index):
        self.dim, self.index = dim, index

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={tuple(self.index.shape)}"

    def forward(self, x):
        self.dim = _check(self.name, x, self.index, self.dim)
        return x[_positions(self.index, self.dim)]

    def backward(self, gy, y):
        x = self.edges[0]
        zeros = constant(xp_of(gy.data).zeros(x.shape, dtype=gy.dtype))
        return (ScatterAdd(self.dim, self.index).apply(zeros, gy),)

    def jvp(self, tangents, y):
        """ty = gather(tx, dim, index)."""
        return Gather(self.dim, self.index).apply(tangents[0])


class ScatterAdd(Function):
    """y = x with src[i][j] added at y[i][index[i][j]] (dim = 1); repeated positions add up.
    gx = gy,  gsrc = gather(gy, dim, index) (src's part outside index's shape gets 0)."""
    __slots__ = ("dim", "index")
    name, formula, saves_inputs = "scatter_add", "gx = gy, gsrc = gather(gy, dim, index)", False

    def __init__(self, dim: int, index):
        self.dim, self.index = dim, index

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={tuple(self.index.shape)}"

    def forward(self, x, src):
        self.dim = _check(self.name, x, self.index, self.dim)
        if any(i > s for i, s in zip(self.index.shape, src.shape)):
            raise OpError(f"index shape {tuple(self.index.shape)} is larger than src's "
                          f"{tuple(src.shape)}")
        out = x.copy()
        used = src[tuple(slice(0, n) for n in self.index.shape)]
        backend_for(out).scatter_add(out, _positions(self.index, self.dim), used)
        return out

    def backward(self, gy, y):
        x, src = self.edges
        grad_src = None
        if needs_grad(src):
            grad_src = Gather(self.dim, self.index).apply(gy)
            if grad_src.shape != src.shape:
                from .shape import IndexAdd
                region = tuple(slice(0, n) for n in self.index.shape)
                grad_src = IndexAdd(region, src.shape).apply(grad_src)
        return (gy if needs_grad(x) else None, grad_src)

    def jvp(self, tangents, y):
        """ty = scatter_add(tx, dim, index, tsrc) (linear in x and src)."""
        (x, src), (tx, tsrc) = self.edges, tangents
        if tsrc is None:
            return tx
        return ScatterAdd(self.dim, self.index).apply(zeros_for(tx, x), tsrc)
