"""How backward sums the gradients that flow into one tensor.

A tensor read by k ops receives k gradients; the engine adds them up before the tensor's own
VJP runs. Two things make the plain ``total = total + g`` costly, and both are fixed here, for
every model, in first-order backward (with ``create_graph=True`` the sum stays made of tensor
ops, so it is itself differentiable):

* **slices.** The gradient of a basic slice x[index] is zeros(x.shape) with gy at index. A loop
  that reads x[0], ..., x[T-1] would make T zero-filled copies of x and add them: O(T^2) work
  for O(T) numbers. ``GetItem`` hands back a ``SliceGrad`` instead (the index and gy, nothing
  allocated), and the sum writes each into one buffer (HIPS autograd's idea).
* **repeated sums.** After the first addition the total is a buffer backward owns (``Sum``),
  so later gradients are added into it in place, not into a new array each time (a weight used
  at T time steps gets T in-place additions, not T allocations).
"""
from __future__ import annotations

from .backends import backend_for
from .state import STATE
from .tensor import Tensor


class SliceGrad:
    """zeros(shape) with ``values`` (a Tensor) at the basic ``index``: the gradient of x[index],
    kept lazy so that the slices of one tensor fill one buffer."""
    __slots__ = ("index", "shape", "values")

    def __init__(self, index, shape: tuple, values: Tensor):
        self.index, self.shape, self.values = index, shape, values

    @property
    def data(self):
        """The values (what anomaly checks read); the zeros around them are finite anyway."""
        return self.values.data

    def covers_all(self) -> bool:
        """True when the slice is the whole tensor (x[0] of a (1, ...) x): no zeros around it."""
        return self.values.data.size == _count(self.shape)

    def dense(self):
        values = self.values.data
        if self.covers_all():
            return values.reshape(self.shape)          # a view: not ours to write into
        out = backend_for(values).xp.zeros(self.shape, dtype=values.dtype)
        out[self.index] = values
        return out


def _count(shape: tuple) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


class Sum:
    """A running total in an array that backward allocated itself, so it may add in place."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def add(self, g) -> "Sum":
        if isinstance(g, SliceGrad):
            values = g.values.data
            if _fits(self.array, values):
                self.array[g.index] += values
                return self
            g = g.dense()
        else:
            g = g.data
        if g.shape == self.array.shape and _fits(self.array, g):
            self.array += g
        else:                                     # a dtype promotion or a broadcast: a new sum
            self.array = self.array + g
        return self


def _fits(total, g) -> bool:
    """``total += g`` keeps total's dtype without losing precision."""
    return total.dtype == g.dtype or backend_for(total).xp.result_type(total, g) == total.dtype


def add(total, g):
    """total + g, where total is None (the first gradient), a Tensor, a SliceGrad or a Sum."""
    if total is None:
        return g
    if STATE.grad_enabled:                        # create_graph: differentiable tensor ops
        return finish(total) + finish(g)
    if not isinstance(total, Sum):
        base = total.dense() if isinstance(total, SliceGrad) else total.data
        if owned(total):
            total = Sum(base)
        elif isinstance(g, Tensor):
            return Sum(base + g.data)
        else:                                     # not ours to write into: copy once
            total = Sum(base.copy())
    return total.add(g)


def finish(total):
    """The total as a Tensor (None stays None)."""
    if isinstance(total, Sum):
        return Tensor._make(total.array)
    if isinstance(total, SliceGrad):
        if STATE.grad_enabled:
            from .ops.shape import IndexAdd
            return IndexAdd(total.index, total.shape).apply(total.values)
        return Tensor._make(total.dense())
    return total


def owned(total) -> bool:
    """True when the finished total is an array nothing else refers to (no copy needed)."""
    return isinstance(total, Sum) or (isinstance(total, SliceGrad) and not total.covers_all())
