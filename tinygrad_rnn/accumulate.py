"""How backward sums the gradients that flow into one tensor.

A tensor read by k ops receives k gradients; the engine adds them up before the tensor's own
VJP runs. The plain ``total = total + g`` is costly in the cases below, and each is fixed here,
for every model, in first-order backward (with ``create_graph=True`` the sum stays made of
tensor ops, so it is itself differentiable):

* **slices.** The gradient of a basic slice x[index] is zeros(x.shape) with gy at index. A loop
  that reads x[0], ..., x[T-1] would make T zero-filled copies of x and add them: O(T^2) work
  for O(T) numbers. ``GetItem`` hands back a ``SliceGrad`` instead (the index and gy, nothing
  allocated), and the sum writes each into one buffer (HIPS autograd's idea).
* **repeated sums.** After the first addition the total is a buffer backward owns (``Sum``),
  so later gradients are added into it in place, not into a new array each time.
* **a matrix used in many products.** W in x_t @ W at T time steps gets sum_t x_t^T g_t: T
  thin matmuls (inner size B) and T additions of a W-sized array. ``MatMul`` hands back a
  ``ProductGrad`` (the pair x_t, g_t) instead, and the sum stacks the pairs and runs
  [x_1 .. x_T]^T [g_1 .. g_T], one matmul over all their rows (in blocks of ~2 MB, so the
  pairs held at once stay small); a product of 256 rows or more is made at once
  (``product_grad``).
* **one entry per row.** nll_loss's gradient is zero but for one entry a row: a ``PickGrad``.

An entry whose VJP can read such a lazy gradient as it is says so (``takes_lazy_grad``): a
fused sweep reads the part of its output a loss used (``parts_of``), log_softmax the picked
entries, without the zeros around them. Everywhere else the engine makes it one array first.
"""
from __future__ import annotations

import sys

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


class PickGrad:
    """zeros(shape) (N, C) with ``values[i]`` at [i, cols[i]]: the gradient of picking one
    entry per row (nll_loss), kept lazy so that log_softmax's VJP, which reads the row sums of
    its gy, adds it without making the zeros."""
    __slots__ = ("cols", "shape", "values")

    def __init__(self, cols, shape: tuple, values):
        self.cols, self.shape, self.values = cols, shape, values

    @property
    def data(self):
        return self.values

    def rows(self):
        return backend_for(self.values).xp.arange(self.shape[0])

    def dense(self):
        out = backend_for(self.values).xp.zeros(self.shape, dtype=self.values.dtype)
        out[self.rows(), self.cols] = self.values
        return out


def _count(shape: tuple) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


class ProductGrad:
    """sum over ``pairs`` (a, g) of a^T @ g (a (rows, K), g (rows, N)): the gradient of W in
    a @ W, kept lazy so that the products of one matrix are summed as one matmul."""
    __slots__ = ("pairs",)
    # stack at most this much before multiplying: the stacked copy doubles what waits, so a
    # small block keeps a composed LSTM's backward peak low (8 MB: 45.1 MB traced at
    # (32,64,256), 2 MB: 35.2) for ~5% of its speed at (64,64,512) (553 -> 580 ms a step)
    block_bytes = 2 * 2**20

    def __init__(self, a, g):
        self.pairs = [(a, g)]

    @property
    def data(self):
        return self.dense()

    @property
    def shape(self) -> tuple:
        a, g = self.pairs[0]
        return (a.shape[1], g.shape[1])

    def joins(self, other) -> bool:
        (a, g), (b, h) = self.pairs[0], other.pairs[0]
        return a.shape[1:] == b.shape[1:] and g.shape[1:] == h.shape[1:] and \
            a.dtype == b.dtype and g.dtype == h.dtype

    def full(self) -> bool:
        return sum(a.nbytes + g.nbytes for a, g in self.pairs) >= self.block_bytes

    def dense(self):
        if len(self.pairs) == 1:
            a, g = self.pairs[0]
            return a.T @ g
        xp = backend_for(self.pairs[0][0]).xp
        a = xp.concatenate([a for a, _ in self.pairs])
        g = xp.concatenate([g for _, g in self.pairs])
        return a.T @ g


# from this many rows on, a^T @ g is already one efficient matmul: computed at once, since a
# lazy pair of large arrays would hold both until backward ends (a char-LM read-out's
# (T*B, V) gradient and (T*B, H) input, ~0.8 MB at (32, 32, 128), kept past the sweep)
EAGER_ROWS = 256


def product_grad(a, g):
    """The gradient a^T @ g of W in a @ W: lazy (``ProductGrad``) when a has few rows, so that
    the thin products of a W used at many steps join into one matmul; at once otherwise."""
    if a.shape[0] >= EAGER_ROWS:
        return Tensor._make(a.T @ g)
    return ProductGrad(a, g)


class Sum:
    """A running total in an array that backward allocated itself, so it may add in place;
    products still to multiply wait in ``products`` (a block of a ProductGrad)."""
    __slots__ = ("array", "products")

    def __init__(self, array=None, products=None):
        self.array, self.products = array, products

    def add(self, g) -> "Sum":
        if isinstance(g, ProductGrad):
            if self.products is not None and self.products.joins(g):
                self.products.pairs.extend(g.pairs)
            else:
                self.flush()
                self.products = g
            if self.products.full():
                self.flush()
            return self
        self.flush()
        if isinstance(g, SliceGrad):
            values = g.values.data
            if _fits(self.array, values):
                self.array[g.index] += values
                return self
            g = g.dense()
        elif isinstance(g, PickGrad):
            if _fits(self.array, g.values) and self.array.shape == g.shape:
                self.array[g.rows(), g.cols] += g.values     # one entry per row: no repeats
                return self
            g = g.dense()
        else:
            g = g.data
        self._add_array(g)
        return self

    def flush(self) -> None:
        """Multiply the waiting products into the array."""
        if self.products is not None:
            product, self.products = self.products.dense(), None
            if self.array is None:
                self.array = product
            else:
                self._add_array(product)

    def _add_array(self, g) -> None:
        if g.shape == self.array.shape and _fits(self.array, g):
            self.array += g
        else:                                     # a dtype promotion or a broadcast: a new sum
            self.array = self.array + g

    def result(self):
        self.flush()
        return self.array


def _fits(total, g) -> bool:
    """``total += g`` keeps total's dtype without losing precision."""
    return total.dtype == g.dtype or backend_for(total).xp.result_type(total, g) == total.dtype


def add(total, g):
    """total + g, where total is None (the first gradient), a Tensor, a SliceGrad, a
    ProductGrad or a Sum."""
    if total is None:
        return g
    if not lazy_sums():                           # differentiable tensor ops
        return finish(total) + finish(g)
    if isinstance(total, ProductGrad):
        total = Sum(products=total)
    elif not isinstance(total, Sum):
        base = total.dense() if isinstance(total, (SliceGrad, PickGrad)) else total.data
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
        return Tensor._make(total.result())
    if isinstance(total, ProductGrad):
        return Tensor._make(total.dense())
    if isinstance(total, PickGrad):
        return Tensor._make(total.dense())
    if isinstance(total, SliceGrad):
        if not lazy_sums():
            from .ops.shape import IndexAdd
            return IndexAdd(total.index, total.shape).apply(total.values)
        return Tensor._make(total.dense())
    return total


def parts_of(gy, count: int) -> list:
    """The gradient of an output made of ``count`` parts stacked along axis 0, as one array per
    part, or None for a part no gradient reached. For an entry with ``takes_lazy_grad``, which
    may get gy as a lazy sum: the SliceGrad of one whole part (y[k]) gives that part's values
    alone, without the zeros of the other parts; anything else is made one array and split."""
    if isinstance(gy, SliceGrad) and not gy.covers_all():
        index = gy.index[0] if isinstance(gy.index, tuple) and len(gy.index) == 1 else gy.index
        if type(index) is int and -count <= index < count:
            parts = [None] * count
            parts[index % count] = gy.values.data
            return parts
    whole = gy.data if isinstance(gy, Tensor) else finish(gy).data
    return [whole[k] for k in range(count)]


def gradient_to_write_over(gy, like):
    """The array of gy, a SliceGrad that covers the whole output (y = out[0] of a (1, ...)
    out), when the VJP receiving it may write over it: a first-order backward, the array has
    ``like``'s shape and dtype in contiguous writable memory, and nothing but gy refers to its
    tensor, to the array or to the array's base (a reshape's). A hook, retain_grad, tg.grad, a
    gradient the caller passed, a drawing's observer or a VJP that kept what it returned each
    hold one more reference. The counts when nothing else does are measured at import
    (``_HELD_BY_GY_ALONE``), since CPython's own references on the way differ by version.
    Else None."""
    if type(gy) is not SliceGrad or not lazy_sums() or not gy.covers_all():
        return None
    array = gy.values.data
    if (array.shape != like.shape or array.dtype != like.dtype
            or not array.flags.c_contiguous or not getattr(array.flags, "writeable", True)):
        return None
    del array
    counts = _gradient_references(gy)
    if counts[:2] != _HELD_BY_GY_ALONE[:2] or counts[2] not in (None, _HELD_BY_GY_ALONE[2]):
        return None
    return gy.values.data


def _gradient_references(gy) -> tuple:
    """(references to gy's tensor, to its array, to the array's base, or None without one), as
    sys.getrefcount sees them here; a base that is itself a view counts as held elsewhere."""
    values = gy.values
    array = values.data
    base = getattr(array, "base", None)
    if base is not None and getattr(base, "base", None) is not None:
        return (-1, -1, -1)
    return (sys.getrefcount(values), sys.getrefcount(array),
            None if base is None else sys.getrefcount(base))


def _references_when_held_by_gy_alone() -> tuple:
    """What _gradient_references counts for a gradient nothing but gy holds: the same calls on
    stand-ins (a SliceGrad-like holder of a tensor-like holder of a view of a base)."""
    class Holder:
        __slots__ = ("values", "data", "base")

    def check(gy):                   # as gradient_to_write_over calls it
        return _gradient_references(gy)

    gy, values, array, base = Holder(), Holder(), Holder(), Holder()
    base.base = None
    array.base = base
    values.data = array
    gy.values = values
    del values, array, base
    return check(gy)


_HELD_BY_GY_ALONE = _references_when_held_by_gy_alone()


def lazy_sums() -> bool:
    """Whether gradients may be summed on arrays: not under create_graph (the sums must be
    differentiable) nor inside a forward-mode dual level (the gradients may carry tangents,
    forward-over-reverse, which array sums would drop)."""
    return not STATE.grad_enabled and STATE.forward_ad is None


def owned(total) -> bool:
    """True when the finished total is an array nothing else refers to (no copy needed)."""
    if isinstance(total, SliceGrad):
        return not total.covers_all()
    return isinstance(total, (Sum, ProductGrad, PickGrad))
