"""Shape ops: they move values around without arithmetic, so each VJP moves the gradient
back (reshape back, permute back, scatter back into place, slice back out).
"""
from __future__ import annotations

from ..accumulate import SliceGrad, lazy_sums
from ..backends import backend_for
from ..errors import OpError
from ..function import Function, needs_grad
from . import constant, unbroadcast, xp_of, zeros_for


class Reshape(Function):
    """y = x viewed with another shape.   gx = gy reshaped to x's shape."""
    __slots__ = ("shape",)
    name, formula, saves_inputs = "reshape", "gx = reshape(gy, x.shape)", False
    may_view = True

    def __init__(self, shape: tuple):
        self.shape = shape

    def extra_repr(self) -> str:
        return f"shape={self.shape}"

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy, y):
        return (gy.reshape(self.edges[0].shape),)

    def jvp(self, tangents, y):
        """ty = reshape(tx, shape)."""
        return Reshape(self.shape).apply(tangents[0])


class Permute(Function):
    """y = x with its axes reordered by ``dims``.   gx = gy with the inverse order."""
    __slots__ = ("dims",)
    name, formula, saves_inputs = "permute", "gx = permute(gy, inverse(dims))", False
    may_view = True

    def __init__(self, dims: tuple):
        self.dims = dims

    def extra_repr(self) -> str:
        return f"dims={self.dims}"

    def forward(self, x):
        if sorted(d % max(x.ndim, 1) for d in self.dims) != list(range(x.ndim)):
            raise OpError(f"dims {self.dims} are not a permutation of the {x.ndim} axes of "
                          f"shape {tuple(x.shape)}")
        return x.transpose(self.dims)

    def backward(self, gy, y):
        ndim = len(self.dims)
        inverse = [0] * ndim
        for position, d in enumerate(self.dims):
            inverse[d % ndim] = position
        return (Permute(tuple(inverse)).apply(gy),)

    def jvp(self, tangents, y):
        """ty = permute(tx, dims)."""
        return Permute(self.dims).apply(tangents[0])


class BroadcastTo(Function):
    """y = x repeated along new or size-1 axes to ``shape``.   gx = gy summed over the copies."""
    __slots__ = ("shape",)
    name, formula, saves_inputs = "broadcast_to", "gx = sum_to(gy, x.shape)", False
    may_view = True

    def __init__(self, shape: tuple):
        self.shape = shape

    def extra_repr(self) -> str:
        return f"shape={self.shape}"

    def forward(self, x):
        return xp_of(x).broadcast_to(x, self.shape)

    def backward(self, gy, y):
        return (unbroadcast(gy, self.edges[0]),)

    def jvp(self, tangents, y):
        """ty = broadcast(tx, shape)."""
        return BroadcastTo(self.shape).apply(tangents[0])


def normalize_index(index):
    """Tensors inside an index become their arrays; everything else is NumPy indexing."""
    if isinstance(index, tuple):
        return tuple(_index_part(part) for part in index)
    return _index_part(index)


def _index_part(part):
    data = getattr(part, "data", None)
    if data is not None and hasattr(data, "dtype") and not isinstance(part, (int, slice)):
        return data
    if isinstance(part, list):
        return backend_for_list(part)
    return part


def backend_for_list(values: list):
    from ..backends import numpy_backend
    array = numpy_backend().asarray(values)
    # x[[]] picks no positions (NumPy, PyTorch); an empty list must not index as float data
    return array.astype("int64") if array.size == 0 else array


def _is_basic(index) -> bool:
    """True when the index has no integer arrays, so no position can be picked twice."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if hasattr(part, "dtype") and part.dtype.kind in "iu":
            return False
    return True


def _on_device_of(index, x):
    """Index arrays moved to the backend of ``x`` (a NumPy index into a CuPy array)."""
    backend = backend_for(x)
    parts = index if isinstance(index, tuple) else (index,)
    moved = tuple(backend.asarray(p, device=backend.device_of(x))
                  if hasattr(p, "dtype") and type(p) is not type(x) and getattr(p, "ndim", 0) > 0
                  else p for p in parts)
    return moved if isinstance(index, tuple) else moved[0]


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer arrays, boolean masks).
    gx = zeros like x, with gy added back at ``index`` (repeated positions accumulate). In a
    first-order backward a basic index's gx stays lazy (``SliceGrad``): the slices of one
    tensor fill one buffer (accumulate.py)."""
    __slots__ = ("index",)
    name, formula, saves_inputs = "getitem", "gx = scatter_add(zeros(x.shape), index, gy)", False
    may_view = True

    def __init__(self, index):
        self.index = index

    def extra_repr(self) -> str:
        return f"index={_show_index(self.index)}"

    def forward(self, x):
        self.index = _on_device_of(self.index, x)
        out = x[self.index]
        if not isinstance(out, type(x)):     # NumPy gives a scalar for x[i] of a 1-D x: ask
            parts = self.index if isinstance(self.index, tuple) else (self.index,)
            out = x[parts + (Ellipsis,)]     # for the 0-d view torch gives (writes reach x)
        return out

    def backward(self, gy, y):
        if lazy_sums() and _is_basic(self.index):
            return (SliceGrad(self.index, self.edges[0].shape, gy),)
        return (IndexAdd(self.index, self.edges[0].shape).apply(gy),)

    def jvp(self, tangents, y):
        """ty = tx[index]."""
        return GetItem(self.index).apply(tangents[0])


class SliceCopy(GetItem):
    """y = x[index] in memory of its own, for a basic index: a layer's h_n, which in torch is
    no view of the layer's output (an edit of either leaves the other alone). gx as GetItem's,
    lazy in a first-order backward (a SliceGrad)."""
    __slots__ = ()
    may_view = False

    def extra_repr(self) -> str:
        return super().extra_repr() + ", copy"

    def forward(self, x):
        return super().forward(x).copy()


class IndexAdd(Function):
    """y = zeros(shape) with g added at ``index``: the adjoint of x[index].   gg = gy[index]."""
    __slots__ = ("index", "shape")
    name, formula, saves_inputs = "index_add", "gg = gy[index]", False

    def __init__(self, index, shape: tuple):
        self.index, self.shape = index, shape

    def extra_repr(self) -> str:
        return f"index={_show_index(self.index)}, shape={self.shape}"

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            out[self.index] = g
        else:
            backend_for(g).scatter_add(out, self.index, g)
        return out

    def backward(self, gy, y):
        return (GetItem(self.index).apply(gy),)

    def jvp(self, tangents, y):
        """ty = zeros(shape) with tg added at index (the op is linear)."""
        return IndexAdd(self.index, self.shape).apply(tangents[0])


class SetItem(Function):
    """y = x with ``value`` written at ``index`` (broadcast, cast to x's dtype): ``x[index] = v``.
    gx = gy with zeros at ``index``;  gv = gy[index] summed to v's shape. With ``inplace`` the
    forward writes into x's own array (torch's CopySlices: in-place setitem and copy_ record
    this op)."""
    __slots__ = ("index", "inplace")
    name, formula, saves_inputs = "setitem", "gx = gy with gy[index] = 0, gv = sum_to(gy[index])", False

    def __init__(self, index, inplace: bool = False):
        self.index, self.inplace = index, inplace

    def extra_repr(self) -> str:
        return f"index={_show_index(self.index)}"

    def bind(self, value):
        """The in-place op's recorded form: ``old -> SetItem(index).apply(old, value)``."""
        return lambda old: self.apply(old, value)

    def forward(self, x, value):
        self.index = _on_device_of(self.index, x)
        out = x if self.inplace else x.copy()
        target = out[self.index]
        if getattr(value, "ndim", 0) > getattr(target, "ndim", 0):   # torch drops leading 1s
            value = value.reshape(value.shape[value.ndim - target.ndim:])
        out[self.index] = value
        return out

    def backward(self, gy, y):
        x, value = self.edges
        grad_x = grad_value = None
        if needs_grad(x) and self.index is not Ellipsis:   # x[...] = v leaves nothing of x
            grad_x = SetItem(self.index).apply(gy, 0.0)
        if needs_grad(value):
            picked = gy[self.index]
            if picked.ndim < value.ndim:
                picked = picked.reshape((1,) * (value.ndim - picked.ndim) + tuple(picked.shape))
            grad_value = unbroadcast(picked, value)
        return grad_x, grad_value

    def jvp(self, tangents, y):
        """ty = tx with tv written at ``index`` (linear in x and v)."""
        (x, value), (tx, tv) = self.edges, tangents
        if tx is None:
            tx = constant(xp_of(y.data).zeros(y.shape, dtype=y.dtype))
        return SetItem(self.index).apply(tx, 0.0 if tv is None else tv)


def _show_index(index) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    shown = []
    for part in parts:
        if hasattr(part, "shape") and getattr(part, "ndim", 0) > 0:
            shown.append(f"<{part.dtype} array {tuple(part.shape)}>")
        elif isinstance(part, slice):
            bounds = ["" if v is None else str(v) for v in (part.start, part.stop)]
            shown.append(":".join(bounds) + ("" if part.step is None else f":{part.step}"))
        else:
            shown.append(repr(part))
    return "[" + ", ".join(shown) + "]"


class Concat(Function):
    """y = the inputs joined along ``axis``.   g_k = the slice of gy that input k occupies."""
    __slots__ = ("axis",)
    name, formula, saves_inputs = "concat", "g_k = gy[..., offset_k : offset_k + n_k, ...]", False

    def __init__(self, axis: int):
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, *arrays):
        _same_rank("concat", arrays)
        return xp_of(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, gy, y):
        axis = self.axis % gy.ndim
        grads, offset = [], 0
        for x in self.edges:
            size = x.shape[axis]
            if needs_grad(x):
                grads.append(gy[(slice(None),) * axis + (slice(offset, offset + size),)])
            else:
                grads.append(None)
            offset += size
        return tuple(grads)

    def jvp(self, tangents, y):
        """ty = concat(t_1, ..., t_k) along ``axis`` (zeros for a missing t_k)."""
        return Concat(self.axis).apply(*(zeros_for(t, x) for t, x in zip(tangents, self.edges)))


class Stack(Function):
    """y = the inputs stacked along a new ``axis``.   g_k = gy[..., k, ...]."""
    __slots__ = ("axis",)
    name, formula, saves_inputs = "stack", "g_k = gy.select(axis, k)", False

    def __init__(self, axis: int):
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, *arrays):
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) > 1:
            raise OpError(f"all inputs must have the same shape, got {sorted(shapes)}")
        return xp_of(arrays[0]).stack(arrays, axis=self.axis)

    def backward(self, gy, y):
        axis = self.axis % gy.ndim
        return tuple(gy[(slice(None),) * axis + (k,)] if needs_grad(x) else None
                     for k, x in enumerate(self.edges))

    def jvp(self, tangents, y):
        """ty = stack(t_1, ..., t_k) along ``axis`` (zeros for a missing t_k)."""
        return Stack(self.axis).apply(*(zeros_for(t, x) for t, x in zip(tangents, self.edges)))


class Pad(Function):
    """y = x with ``value`` added around it (``widths`` = (before, after) per axis).
    gx = the slice of gy where x sits."""
    __slots__ = ("widths", "value")
    name, formula, saves_inputs = "pad", "gx = gy[before : -after]", False

    def __init__(self, widths: tuple, value: float = 0.0):
        self.widths, self.value = widths, value

    def extra_repr(self) -> str:
        return f"widths={self.widths}"

    def forward(self, x):
        if any(before < 0 or after < 0 for before, after in self.widths):
            raise OpError(f"negative padding {self.widths} is not supported")
        return xp_of(x).pad(x, self.widths, constant_values=self.value)

    def backward(self, gy, y):
        index = tuple(slice(before, size - after)
                      for (before, after), size in zip(self.widths, gy.shape))
        return (gy[index],)

    def jvp(self, tangents, y):
        """ty = tx padded with zeros (the padding value is a constant)."""
        return Pad(self.widths, 0.0).apply(tangents[0])


def _same_rank(op: str, arrays) -> None:
    if not arrays:
        raise OpError("needs at least one tensor")
    ranks = {a.ndim for a in arrays}
    if len(ranks) > 1:
        raise OpError(f"all inputs must have the same number of dimensions, got shapes "
                      f"{[tuple(a.shape) for a in arrays]}")


# ---------------------------------------------------------------------------
# Shape helpers built from the primitives above (no VJP of their own).

def _dim(op: str, dim, ndim: int) -> int:
    """``dim`` in [0, ndim), from a possibly negative index; PyTorch's IndexError if it is
    outside [-ndim, ndim - 1]."""
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    dim = dim.__index__()
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % max(ndim, 1)


def transpose(x, dim0: int, dim1: int):
    dim0, dim1 = _dim("transpose", dim0, x.ndim), _dim("transpose", dim1, x.ndim)
    if x.ndim == 0:
        return x
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute(tuple(dims)).apply(x)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = {d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return x if shape == x.shape else Reshape(shape).apply(x)


def unsqueeze(x, dim: int):
    ndim = x.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result with {ndim} dims")
    shape = list(x.shape)
    shape.insert(dim % ndim, 1)
    return Reshape(tuple(shape)).apply(x)


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    middle = 1
    for s in x.shape[start:end + 1]:
        middle *= s
    return x.reshape(x.shape[:start] + (middle,) + x.shape[end + 1:])


def expand(x, sizes: tuple):
    """``expand(-1, 4)``: -1 keeps that axis' size (PyTorch)."""
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise OpError(f"expand: {len(sizes)} sizes given for a tensor of shape {x.shape}")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return x if shape == x.shape else BroadcastTo(shape).apply(x)


def split(x, split_size_or_sections, dim: int = 0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    total = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (total // split_size_or_sections)
        if total % split_size_or_sections:
            sizes.append(total % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != total:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has "
                             f"size {total}")
    axis = dim % x.ndim
    pieces, offset = [], 0
    for size in sizes:
        pieces.append(x[(slice(None),) * axis + (slice(offset, offset + size),)])
        offset += size
    return tuple(pieces)


def chunk(x, chunks: int, dim: int = 0):
    """``chunks`` pieces of (nearly) equal size along ``dim``, as PyTorch: each of size
    ceil(n / chunks)."""
    if isinstance(chunks, bool) or not hasattr(chunks, "__index__") or chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks!r}")
    dim = _dim("chunk", dim, x.ndim)
    size = -(-x.shape[dim] // chunks)
    return split(x, max(size, 1), dim)
