"""Tensor: a backend array plus what autodiff needs to know about it.

A Tensor holds ``data`` (a numpy or cupy array), ``grad``, ``requires_grad``,
the tape entry that produced it (``_node``; None for leaves) and a version
counter that in-place edits bump. The math lives in ``tinygrad_rnn.ops``; the
methods here only route to it, with PyTorch's names.
"""
from __future__ import annotations

from typing import Any, Sequence

from .backends import SCALAR_TO_ARRAY, backend_for, backend_for_device
from .device import resolve_dtype, target_device
from .state import STATE

_SCALAR_TYPES = (int, float)


class _Size(int):
    """``x.size`` is the element count (as NumPy); ``x.size()`` / ``x.size(d)`` the shape (as PyTorch)."""
    def __new__(cls, count: int, shape: tuple):
        size = super().__new__(cls, count)
        size._shape = shape
        return size

    def __call__(self, dim: int | None = None):
        return self._shape if dim is None else self._shape[dim]


class Tensor:
    # _base: the tensor whose memory this one views (None when it owns its memory); views
    # share their base's version counter, so an in-place edit through either is noticed
    __slots__ = ("data", "grad", "requires_grad", "_node", "_version", "_base", "_retains_grad",
                 "name", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators (np_array * tensor)

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None, device=None,
                 name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        device = target_device(data, device)
        backend = backend_for_device(device)
        # arrays are copied (as torch.tensor does), so later in-place updates never write
        # into the caller's array
        self.data = backend.asarray(data, dtype=resolve_dtype(data, dtype, backend), device=device,
                                    copy=hasattr(data, "shape"))
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._version = 0
        self._base = None
        self._retains_grad = False
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data) -> "Tensor":
        """Wrap an array without copying or checking (the ops' fast path)."""
        tensor = cls.__new__(cls)
        to_array = SCALAR_TO_ARRAY.get(type(data))
        tensor.data = data if to_array is None else to_array(data)
        tensor.grad = None
        tensor.requires_grad = False
        tensor._node = None
        tensor._version = 0
        tensor._base = None
        tensor._retains_grad = False
        tensor.name = None
        return tensor

    # ---------------------------------------------------------------- facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> _Size:
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> str:
        return backend_for(self.data).device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        """The tape entry that produced this tensor (None for leaves)."""
        return self._node

    @property
    def version(self) -> int:
        """In-place edits so far of the memory this tensor reads (its own, or its base's)."""
        return (self if self._base is None else self._base)._version

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is "
                             "ambiguous; use .any() or .all()")
        return bool(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = repr(self.numpy()).replace("array(", "tensor(", 1)
        extras = []
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.name:
            extras.append(f"name='{self.name}'")
        return body[:-1] + "".join(", " + e for e in extras) + ")"

    # ---------------------------------------------------------- conversion
    def numpy(self):
        """The values as a NumPy array (copied to the host for GPU tensors)."""
        return backend_for(self.data).to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number; this one has shape {tuple(self.shape)}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device_or_dtype=None, dtype=None) -> "Tensor":
        """``x.to("cuda")``, ``x.to("cpu")``, ``x.to("float64")`` or ``x.to(device, dtype)``."""
        from .ops.movement import Cast, ToDevice
        from .device import is_device
        out = self
        if device_or_dtype is not None and not is_device(device_or_dtype):
            device_or_dtype, dtype = None, device_or_dtype
        if device_or_dtype is not None:
            target = target_device(None, device_or_dtype)
            if target != self.device:
                out = ToDevice(target).apply(out)
        if dtype is not None:
            dtype = resolve_dtype(None, dtype, backend_for(out.data))
            if out.dtype != dtype:
                out = Cast(dtype).apply(out)
        return out

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, index: int = 0) -> "Tensor":
        return self.to(f"cuda:{index}")

    def float(self) -> "Tensor":
        return self.to("float32")

    def double(self) -> "Tensor":
        return self.to("float64")

    def long(self) -> "Tensor":
        return self.to("int64")

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch semantics)."""
        from .engine import run_backward
        run_backward((self,), None if gradient is None else (gradient,),
                     retain_graph=create_graph if retain_graph is None else retain_graph,
                     create_graph=create_graph)

    def detach(self) -> "Tensor":
        """The same values (shared memory) with no history: gradients stop here (truncated BPTT
        uses this). Like any view, it shares the version counter of the memory's owner."""
        out = Tensor._make(self.data)
        out._base = self if self._base is None else self._base
        return out

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach().requires_grad_() for a new leaf")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad; "
                            f"this one is {self.data.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._node is not None:
            self._retains_grad = True
        return self

    def named(self, name: str | None) -> "Tensor":
        """Set ``name`` (shown by ``tg.tape`` and the drawings) and return this tensor, so a
        line of a model can name what it computes: ``h = (x @ W).tanh().named("h_t")``."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"named: a name is a str or None, got {type(name).__name__}")
        self.name = name
        return self

    def zero_grad_(self) -> None:
        self.grad = None

    # ------------------------------------------------------- arithmetic
    def __add__(self, other): return _elementwise.Add().apply(self, _operand(self, other))
    def __radd__(self, other): return _elementwise.Add().apply(_operand(self, other), self)
    def __sub__(self, other): return _elementwise.Sub().apply(self, _operand(self, other))
    def __rsub__(self, other): return _elementwise.Sub().apply(_operand(self, other), self)
    def __mul__(self, other): return _elementwise.Mul().apply(self, _operand(self, other))
    def __rmul__(self, other): return _elementwise.Mul().apply(_operand(self, other), self)
    def __truediv__(self, other): return _elementwise.Div().apply(self, _operand(self, other))
    def __rtruediv__(self, other): return _elementwise.Div().apply(_operand(self, other), self)
    def __pow__(self, other): return _elementwise.Pow().apply(self, _operand(self, other))
    def __rpow__(self, other): return _elementwise.Pow().apply(_operand(self, other), self)
    def __neg__(self): return _elementwise.Neg().apply(self)
    def __pos__(self): return self
    def __matmul__(self, other): return _linalg.MatMul().apply(self, _as_tensor(self, other))
    def __rmatmul__(self, other): return _linalg.MatMul().apply(_as_tensor(self, other), self)
    def __abs__(self): return self.abs()

    # comparisons give boolean tensors that carry no gradient
    def __lt__(self, other): return Tensor._make(self.data < _raw(other))
    def __le__(self, other): return Tensor._make(self.data <= _raw(other))
    def __gt__(self, other): return Tensor._make(self.data > _raw(other))
    def __ge__(self, other): return Tensor._make(self.data >= _raw(other))
    def __eq__(self, other): return Tensor._make(self.data == _raw(other))
    def __ne__(self, other): return Tensor._make(self.data != _raw(other))
    def __invert__(self): return Tensor._make(~self.data)
    def __and__(self, other): return Tensor._make(self.data & _raw(other))
    def __or__(self, other): return Tensor._make(self.data | _raw(other))

    def exp(self): return _elementwise.Exp().apply(self)
    def log(self): return _elementwise.Log().apply(self)
    def sqrt(self): return _elementwise.Sqrt().apply(self)
    def tanh(self): return _elementwise.Tanh().apply(self)
    def sigmoid(self): return _elementwise.Sigmoid().apply(self)
    def relu(self): return _elementwise.Relu().apply(self)
    def abs(self): return _elementwise.Abs().apply(self)
    def sin(self): return _elementwise.Sin().apply(self)
    def cos(self): return _elementwise.Cos().apply(self)
    def neg(self): return _elementwise.Neg().apply(self)

    def pow(self, exponent): return self ** exponent
    def maximum(self, other): return _elementwise.Maximum().apply(self, _as_tensor(self, other))
    def minimum(self, other): return _elementwise.Minimum().apply(self, _as_tensor(self, other))

    def clamp(self, min=None, max=None):
        return _elementwise.Clamp(min, max).apply(self)

    clip = clamp

    # ------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.Sum(_axis(dim, axis), _keep(keepdim, keepdims)).apply(self)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.mean(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.Max(_axis(dim, axis), _keep(keepdim, keepdims)).apply(self)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.Min(_axis(dim, axis), _keep(keepdim, keepdims)).apply(self)

    def logsumexp(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.logsumexp(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def var(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None,
            correction: int = 1, unbiased: bool | None = None):
        if unbiased is not None:
            correction = int(unbiased)
        return _reduce.var(self, _axis(dim, axis), _keep(keepdim, keepdims), correction)

    def argmax(self, dim=None, keepdim: bool = False):
        return Tensor._make(_reduce.arg_extremum(self.data, "argmax", dim, keepdim))

    def argmin(self, dim=None, keepdim: bool = False):
        return Tensor._make(_reduce.arg_extremum(self.data, "argmin", dim, keepdim))

    def any(self): return Tensor._make(self.data.any())
    def all(self): return Tensor._make(self.data.all())

    # ------------------------------------------------------------ shape
    def reshape(self, *shape): return _shape.Reshape(_shape_arg(shape)).apply(self)
    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int): return _shape.transpose(self, dim0, dim1)
    def permute(self, *dims): return _shape.Permute(_shape_arg(dims)).apply(self)

    @property
    def T(self): return _shape.Permute(tuple(range(self.ndim - 1, -1, -1))).apply(self)

    @property
    def mT(self): return _shape.transpose(self, -2, -1)

    def squeeze(self, dim=None): return _shape.squeeze(self, dim)
    def unsqueeze(self, dim: int): return _shape.unsqueeze(self, dim)
    def expand(self, *sizes): return _shape.expand(self, _shape_arg(sizes))
    def broadcast_to(self, shape): return _shape.BroadcastTo(tuple(shape)).apply(self)
    def split(self, split_size_or_sections, dim: int = 0):
        return _shape.split(self, split_size_or_sections, dim)
    def chunk(self, chunks: int, dim: int = 0): return _shape.chunk(self, chunks, dim)
    def __getitem__(self, index): return _shape.GetItem(_shape.normalize_index(index)).apply(self)

    def contiguous(self): return self

    def clone(self) -> "Tensor":
        return self + 0 if self.requires_grad else Tensor._make(self.data.copy())

    # ------------------------------------------------------------ in place
    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and STATE.grad_enabled:
            raise RuntimeError(
                f"{op}: in-place change of a tensor that requires grad would corrupt its "
                "gradient; do it under tg.no_grad() (as optimizers do), or use the "
                "out-of-place op")

    def _bump(self) -> "Tensor":
        (self if self._base is None else self._base)._version += 1
        STATE.inplace_edits += 1
        return self

    def add_(self, other, alpha: float = 1.0):
        self._check_inplace("add_")
        value = _raw(other)
        self.data += value if alpha == 1.0 else alpha * value
        return self._bump()

    def sub_(self, other, alpha: float = 1.0):
        self._check_inplace("sub_")
        value = _raw(other)
        self.data -= value if alpha == 1.0 else alpha * value
        return self._bump()

    def mul_(self, other):
        self._check_inplace("mul_")
        self.data *= _raw(other)
        return self._bump()

    def div_(self, other):
        self._check_inplace("div_")
        self.data /= _raw(other)
        return self._bump()

    def zero_(self):
        self._check_inplace("zero_")
        self.data[...] = 0
        return self._bump()

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data[...] = _raw(value)
        return self._bump()

    def copy_(self, source):
        self._check_inplace("copy_")
        self.data[...] = _raw(source)
        return self._bump()

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        self.data[_shape.normalize_index(index)] = _raw(value)
        self._bump()


def _raw(value):
    """The array behind a Tensor; anything else unchanged."""
    return value.data if isinstance(value, Tensor) else value


def _operand(like: Tensor, value):
    """Python numbers stay Python numbers (NumPy then keeps float32 float32); the rest become Tensors."""
    if isinstance(value, Tensor) or type(value) in _SCALAR_TYPES:
        return value
    return _as_tensor(like, value)


def _as_tensor(like: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "dtype") and getattr(value, "ndim", None) == 0:
        return _operand(like, value.item())       # a numpy scalar: treat as a Python number
    if isinstance(value, (int, float, bool)):
        return Tensor(value, dtype=like.dtype, device=like.device)
    return Tensor(value, device=like.device)


def _axis(dim, axis):
    return axis if axis is not None else dim


def _keep(keepdim, keepdims):
    return keepdims if keepdims is not None else keepdim


def _shape_arg(values: Sequence) -> tuple:
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean the shape (2, 3)."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        return tuple(values[0])
    return tuple(values)


# The ops import Tensor, so they are imported after it is defined.
from .ops import elementwise as _elementwise  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
