"""Reductions over an axis (or all axes): sum and max/min are primitives; mean, var and
logsumexp are built from them.
"""
from __future__ import annotations

from typing import NamedTuple

from ..function import Function
from . import constant, xp_of


class ValuesIndices(NamedTuple):
    """What ``x.max(dim)`` / ``x.min(dim)`` return, as torch: ``values, indices = x.max(1)``."""
    values: object
    indices: object


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
        return (expand_reduced(gy, self.edges[0].shape, self.axis, self.keepdims),)

    def jvp(self, tangents, y):
        """ty = sum over ``axis`` of tx."""
        return Sum(self.axis, self.keepdims).apply(tangents[0])


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
        return (expand_reduced(gy, self.edges[0].shape, self.axis, self.keepdims)
                * self.shares(y),)

    def shares(self, y):
        """[x == y] / #ties: each extremum's share of the result (a constant)."""
        x = self.edges[0].data
        kept = y.data if self.keepdims else xp_of(x).expand_dims(y.data, _axes(self.axis, x.ndim))
        hits = (x == kept).astype(y.dtype)
        return constant(hits / hits.sum(axis=self.axis, keepdims=True))

    def jvp(self, tangents, y):
        """ty = sum over ``axis`` of tx * [x == y] / #ties  (the VJP's shares, transposed)."""
        return Sum(self.axis, self.keepdims).apply(tangents[0] * self.shares(y))


class Min(Max):
    """y = min over ``axis`` of x.   gx = gy at the minima (shared evenly between ties), else 0."""
    __slots__ = ()
    name, formula, reduction = "min", "gx = gy * [x == y] / #ties", "min"


def _count(x, axis) -> int:
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return count


def extremum(x, which: str, dim, keepdim: bool):
    """``x.max()``, ``x.max(dim)`` -> (values, indices), ``x.max(other)`` (torch's overloads)."""
    if hasattr(dim, "data") and not isinstance(dim, int):
        return x.maximum(dim) if which == "max" else x.minimum(dim)
    op = Max if which == "max" else Min
    if dim is None:
        return op(None, False).apply(x)
    if not isinstance(dim, int):
        raise TypeError(f"{which}: dim must be one int, got {dim!r}; use a{which}(dim) to reduce "
                        "over several dims")
    values = op(dim, keepdim).apply(x)
    return ValuesIndices(values, type(values)._make(arg_extremum(x.data, "arg" + which, dim, keepdim)))


def divide_or_nan(total, count):
    """total / count with count = 0 giving NaN (torch's mean/var of nothing), without NumPy's
    division warning."""
    if count > 0:
        return total / count
    return total * float("nan")


def mean(x, axis=None, keepdims: bool = False):
    """mean(x) = sum(x) / n, n the number of elements reduced (NaN when n = 0, as torch)."""
    return divide_or_nan(x.sum(axis=axis, keepdims=keepdims), _count(x, axis))


def var(x, axis=None, keepdims: bool = False, correction: int = 1):
    """var(x) = sum((x - mean(x))^2) / (n - correction); correction=1 is the unbiased estimate.
    NaN when n - correction <= 0 (one element, unbiased), as torch."""
    centered = x - mean(x, axis, keepdims=True)
    return divide_or_nan((centered * centered).sum(axis=axis, keepdims=keepdims),
                   _count(x, axis) - correction)


def logsumexp(x, axis=None, keepdims: bool = False):
    """log sum_i e^{x_i} = m + log sum_i e^{x_i - m}, with m = max x held constant (stability).
    An infinite m is replaced by 0, so a row of -inf gives -inf and a +inf entry gives +inf
    (torch); the sum of nothing is -inf."""
    xp = xp_of(x.data)
    if x.data.size:
        m = x.data.max(axis=axis, keepdims=True)
        shift = constant(xp.where(xp.isfinite(m), m, 0).astype(x.dtype))
    else:           # the sum of nothing is 0 and its log -inf; no shift is needed
        shift = 0.0
    out = (x - shift).exp().sum(axis=axis, keepdims=True).log() + shift
    if keepdims:
        return out
    return out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in _axes(axis, x.ndim)))


def arg_extremum(x, which: str, axis, keepdims: bool):
    result = getattr(x, which)(axis=axis)
    if keepdims and axis is not None:
        result = xp_of(x).expand_dims(result, axis)
    return result


class Prod(Function):
    """y = product over ``axis`` (one int, or None for all) of x.
    gx_i = gy * prod_{j != i} x_j: no division, so zeros in x are fine."""
    __slots__ = ("axis", "keepdims")
    name, formula = "prod", "gx_i = gy * prod_{j != i} x_j"

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def extra_repr(self) -> str:
        return "" if self.axis is None else f"axis={self.axis}"

    def forward(self, x):
        return x.prod(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, y):
        x = self.edges[0]
        return (expand_reduced(gy, x.shape, self.axis, self.keepdims) * self.others(),)

    def others(self):
        """prod_{j != i} x_j for every i (over ``axis``)."""
        x = self.edges[0]
        if self.axis is None:
            return _product_of_others(x.reshape(-1), 0).reshape(x.shape)
        return _product_of_others(x, self.axis)

    def jvp(self, tangents, y):
        """ty = sum over ``axis`` of tx_i * prod_{j != i} x_j."""
        return Sum(self.axis, self.keepdims).apply(tangents[0] * self.others())


def _product_of_others(x, axis: int):
    """o_i = prod_{j != i} x_j along ``axis``: row i of an (n, n) stack holds x with x_i
    replaced by 1 (differentiable, so prod has second derivatives)."""
    from .elementwise import Where
    last = x.transpose(axis, -1) if x.ndim > 1 else x
    n = last.shape[-1]
    stack = Where(xp_of(x.data).eye(n, dtype=bool)).apply(1.0, last.unsqueeze(-2))
    others = Prod(-1).apply(stack)
    return others.transpose(axis, -1) if x.ndim > 1 else others


class Norm(Function):
    """y = ||x||_2 = sqrt(sum over ``axis`` of x^2).   gx = gy * x / y  (0 where y = 0, as
    torch: the zero vector's subgradient)."""
    __slots__ = ("axis", "keepdims")
    name, formula, uses_output = "norm", "gx = gy * x / y (0 where y = 0)", True

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def extra_repr(self) -> str:
        return "" if self.axis is None else f"axis={self.axis}"

    def forward(self, x):
        return xp_of(x).sqrt((x * x).sum(axis=self.axis, keepdims=self.keepdims))

    def backward(self, gy, y):
        x = self.edges[0]
        return (expand_reduced(gy / _nonzero(y), x.shape, self.axis, self.keepdims) * x,)

    def jvp(self, tangents, y):
        """ty = sum over ``axis`` of (x * tx) / y  (0 where y = 0)."""
        return Sum(self.axis, self.keepdims).apply(self.edges[0] * tangents[0]) / _nonzero(y)


def _nonzero(y):
    """y with its zeros replaced by 1 (the norm's zero vector gets gradient 0)."""
    from .elementwise import Where
    zero = xp_of(y.data).asarray(y.data == 0)
    return Where(zero).apply(1.0, y) if zero.any() else y
