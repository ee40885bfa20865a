"""Tensor methods built from the primitive ops (no VJP of their own): their gradients come
from the ops they are made of, so they are differentiable to any order those ops are."""
from __future__ import annotations

import math

from ..errors import OpError
from . import constant, xp_of
from .elementwise import Where
from .reduce import Norm, _axes


def std(x, dim=None, keepdim: bool = False, correction: int = 1):
    """sqrt(var(x)): the standard deviation (correction=1: the unbiased variance)."""
    return x.var(dim, keepdim, correction=correction).sqrt()


def norm(x, p=2, dim=None, keepdim: bool = False):
    """The p-norm over ``dim`` (all axes when None): p = 2 or "fro" (sqrt of the sum of
    squares), 1, inf, -inf, 0 (the count of nonzeros) or any other p: (sum |x|^p)^(1/p)."""
    if p in (2, 2.0, "fro"):
        return Norm(dim, keepdim).apply(x)
    if p in (1, 1.0):
        return x.abs().sum(dim, keepdim)
    if p == math.inf:
        return x.abs().amax(() if dim is None else dim, keepdim)
    if p == -math.inf:
        return x.abs().amin(() if dim is None else dim, keepdim)
    if p == 0:
        return constant((x.data != 0).sum(axis=dim, keepdims=keepdim).astype(x.dtype))
    if isinstance(p, str):
        raise OpError(f"norm: unknown p={p!r}; use a number or 'fro'")
    return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)


def _triangle(x, diagonal: int, lower: bool):
    if x.ndim < 2:
        raise OpError(f"{'tril' if lower else 'triu'}: needs at least 2 dims, got shape "
                      f"{tuple(x.shape)}")
    rows, cols = x.shape[-2:]
    xp = xp_of(x.data)
    keep = xp.tri(rows, cols, diagonal, dtype=bool)
    if not lower:
        keep = ~xp.tri(rows, cols, diagonal - 1, dtype=bool)
    return Where(keep).apply(x, 0.0)


def tril(x, diagonal: int = 0):
    """x with the entries above the ``diagonal``-th diagonal set to 0 (last two axes)."""
    return _triangle(x, diagonal, lower=True)


def triu(x, diagonal: int = 0):
    """x with the entries below the ``diagonal``-th diagonal set to 0 (last two axes)."""
    return _triangle(x, diagonal, lower=False)


def repeat(x, sizes: tuple):
    """x tiled ``sizes[i]`` times along axis i (torch's repeat; NumPy's tile): a reshape that
    gives each axis a size-1 partner, a broadcast over the partners, and a reshape back."""
    if len(sizes) < x.ndim:
        raise OpError(f"repeat: {len(sizes)} sizes given for a tensor of shape {tuple(x.shape)}; "
                      "give at least one per dim")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    paired = tuple(v for side in shape for v in (1, side))
    stretched = tuple(v for r, side in zip(sizes, shape) for v in (r, side))
    return (x.reshape(paired).broadcast_to(stretched)
            .reshape(tuple(r * side for r, side in zip(sizes, shape))))


def unbind(x, dim: int = 0) -> tuple:
    """The slices of x along ``dim``, that axis removed."""
    axis = _axes(dim, x.ndim)[0]
    return tuple(x[(slice(None),) * axis + (i,)] for i in range(x.shape[axis]))


def index_select(x, dim: int, index):
    """The entries of x at the integer positions ``index`` (1-D) along ``dim``."""
    positions = getattr(index, "data", index)
    if getattr(positions, "ndim", 1) != 1:
        raise OpError(f"index_select: index must be 1-D, got shape {tuple(positions.shape)}")
    axis = _axes(dim, x.ndim)[0]
    return x[(slice(None),) * axis + (positions,)]


def masked_fill(x, mask, value):
    """``value`` where ``mask`` is True, x elsewhere (mask broadcasts to x's shape)."""
    condition = getattr(mask, "data", mask)
    if condition.dtype.kind != "b":
        raise OpError(f"masked_fill: mask must be boolean, got {condition.dtype}")
    out = Where(condition).apply(value, x)
    if out.shape != x.shape:
        raise OpError(f"masked_fill: mask of shape {tuple(condition.shape)} does not broadcast "
                      f"to {tuple(x.shape)}")
    return out


def clamp(x, low=None, high=None):
    """min(max(x, low), high); tensor bounds go through maximum/minimum (so they get
    gradients where they win), number bounds through Clamp."""
    from .elementwise import Clamp
    if not hasattr(low, "data") and not hasattr(high, "data"):
        return Clamp(low, high).apply(x)
    out = x
    if low is not None:
        out = out.maximum(low)
    if high is not None:
        out = out.minimum(high)
    return out
