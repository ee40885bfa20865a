"""Reductions over an axis (or all axes): sum and max/min are primitives; mean, var and
logsumexp are built from them.
"""
from __future__ import annotations

from ..function import Function
from . import constant, xp_of


def _axes(axis, ndim: int) -> tuple:
    """``axis`` (None, an int or a sequence, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimension(s)")
        normalized.append(a % ndim if ndim else 0)
    return tuple(sorted(set(normalized)))


def expand_reduced(g, shape: tuple, axis, keepdims: bool):
    """Broadcast a reduced gradient back to the input's ``shape``: every element of a reduced
    group receives the gradient of the group's result."""
    if not keepdims:
        kept = list(shape)
        for a in _axes(axis, len(shape)):
            kept[a] = 1
        g = g.reshape(tuple(kept))
    return g if g.shape == shape else g.broadcast_to(shape)


class Sum(Function):
    """y = sum over ``axis`` of x.   gx = gy broadcast back over the summed axes."""
    __slots__ = ("axis", "keepdims")
    name, formula, saves_inputs = "sum", "gx = broadcast(gy)", False

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def extra_repr(self) -> str:
        return "" if self.axis is None else f"axis={self.axis}"

    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, y):
        return (expand_reduced(gy, self.inputs[0].shape, self.axis, self.keepdims),)


class Max(Function):
    """y = max over ``axis`` of x.   gx = gy at the maxima (shared evenly between ties), else 0."""
    __slots__ = ("axis", "keepdims")
    name, formula, uses_output, reduction = "max", "gx = gy * [x == y] / #ties", True, "max"

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def extra_repr(self) -> str:
        return "" if self.axis is None else f"axis={self.axis}"

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{self.name} of an empty tensor has no value")
        return getattr(x, self.reduction)(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, y):
        x = self.inputs[0].data
        kept = y.data if self.keepdims else xp_of(x).expand_dims(y.data, _axes(self.axis, x.ndim))
        hits = (x == kept).astype(gy.dtype)
        share = constant(hits / hits.sum(axis=self.axis, keepdims=True))
        return (expand_reduced(gy, x.shape, self.axis, self.keepdims) * share,)


class Min(Max):
    """y = min over ``axis`` of x.   gx = gy at the minima (shared evenly between ties), else 0."""
    __slots__ = ()
    name, formula, reduction = "min", "gx = gy * [x == y] / #ties", "min"


def _count(x, axis) -> int:
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return count


def mean(x, axis=None, keepdims: bool = False):
    """mean(x) = sum(x) / n, n the number of elements reduced."""
    return x.sum(axis=axis, keepdims=keepdims) / max(_count(x, axis), 1)


def var(x, axis=None, keepdims: bool = False, correction: int = 1):
    """var(x) = sum((x - mean(x))^2) / (n - correction); correction=1 is the unbiased estimate."""
    centered = x - mean(x, axis, keepdims=True)
    return (centered * centered).sum(axis=axis, keepdims=keepdims) / max(_count(x, axis) - correction, 1)


def logsumexp(x, axis=None, keepdims: bool = False):
    """log sum_i e^{x_i} = m + log sum_i e^{x_i - m}, with m = max x held constant (stability)."""
    shift = x.max(axis=axis, keepdims=True).detach()
    out = (x - shift).exp().sum(axis=axis, keepdims=True).log() + shift
    if keepdims:
        return out
    return out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in _axes(axis, x.ndim)))


def arg_extremum(x, which: str, axis, keepdims: bool):
    result = getattr(x, which)(axis=axis)
    if keepdims and axis is not None:
        result = xp_of(x).expand_dims(result, axis)
    return result
