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
_REPR_DEFAULT_DTYPES = ("float32", "int64", "bool")


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
    # _view_of: (source, op) for a view made by an op (slice, reshape, ...) from source
    # (detach() shares memory too but is no view in autograd's sense); _previous: ((version, old), ...)
    # the histories this tensor had before in-place ops rebased it (the engine routes a
    # gradient recorded at an older version to the history of that time)
    __slots__ = ("data", "grad", "requires_grad", "_node", "_version", "_base", "_retains_grad",
                 "name", "_view_of", "_previous", "_hooks", "_tangent", "__weakref__")
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
        self._view_of = self._previous = self._hooks = self._tangent = None
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
        tensor._view_of = tensor._previous = tensor._hooks = tensor._tangent = None
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
        """The graph node that produced this tensor (None for leaves), as torch's: ``name()``
        and ``next_functions`` (tg.autograd.GradFn); the tape entry itself is ``_node``."""
        if self._node is None:
            return None
        from .autograd import GradFn
        return GradFn(self._node)

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
        # torch's form: the default dtypes (float32, int64, bool) go unsaid, others are named
        host = self._host()
        body = backend_for(host).xp.array2string(host, separator=", ", prefix="tensor(")
        extras = [] if str(self.dtype) in _REPR_DEFAULT_DTYPES else [f"dtype={self.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.name:
            extras.append(f"name='{self.name}'")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---------------------------------------------------------- conversion
    def _host(self):
        """The values on the host (NumPy), with no autograd check: for printing and tolist."""
        return backend_for(self.data).to_numpy(self.data)

    def numpy(self):
        """The values as a NumPy array (copied to the host for GPU tensors). As in torch, a
        tensor that requires grad is refused: the array would share its memory, and writing
        into it would bypass the version counter and silently corrupt the gradients."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() instead")
        return self._host()

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` / ``np.array(t)``: the values, as ``numpy()`` gives them."""
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number; this one has shape {tuple(self.shape)}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be used as an index; "
                            f"this one is {self.data.dtype}")
        return int(self._scalar("index"))

    def __format__(self, spec: str) -> str:
        """``f"{loss:.3f}"`` formats a 0-d tensor's value (as torch); with no spec, as str()."""
        if spec and self.data.ndim == 0:
            return format(self.data.item(), spec)
        return object.__format__(self, spec) if spec else str(self)

    def _scalar(self, conversion: str):
        if self.data.size != 1:   # torch's error type and wording
            raise ValueError(f"{conversion}(): only one element tensors can be converted to "
                             f"Python scalars; this one has shape {tuple(self.shape)}")
        return self.data.item()

    def tolist(self):
        return self._host().tolist()
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
            if requires_grad:          # already requires grad: nothing to change (as torch)
                return self
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach().requires_grad_() for a new leaf")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad; "
                            f"this one is {self.data.dtype}")
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when the gradient of this tensor is computed; a hook that
        returns a tensor replaces the gradient (before it reaches ``.grad`` or flows on).
        Returns a handle whose ``remove()`` takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        from .autograd import RemovableHandle
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        if self._node is not None:
            from .edges import pin
            pin(self)
        return handle

    def _run_hooks(self, grad: "Tensor") -> "Tensor":
        for hook in tuple(self._hooks.values()):
            replaced = hook(grad)
            if replaced is not None:
                if not isinstance(replaced, Tensor) or replaced.shape != grad.shape:
                    raise RuntimeError(f"register_hook: a hook returned "
                                       f"{getattr(replaced, 'shape', type(replaced).__name__)}"
                                       f" for a gradient of shape {tuple(grad.shape)}")
                grad = replaced
        return grad

    def detach_(self) -> "Tensor":
        """Make this tensor a leaf that does not require grad, in place (torch's detach_)."""
        if self._view_of is not None and self._view_of[0].requires_grad:
            raise RuntimeError("detach_: this tensor is a view of another tensor that requires "
                               "grad; use detach() for a new tensor instead")
        had_history = self._node is not None
        self._node, self.requires_grad, self._previous = None, False, None
        self._retains_grad = False
        if had_history:
            from .edges import detached
            detached(self)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._node is not None:
            self._retains_grad = True
            from .edges import pin
            pin(self)
        return self

    def named(self, name: str | None) -> "Tensor":
        """Set ``name`` (shown by ``tg.tape`` and the drawings) and return this tensor, so a
        line of a model can name what it computes: ``h = (x @ W).tanh().named("h_t")``."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"named: a name is a str or None, got {type(name).__name__}")
        self.name = name
        if self._node is not None:
            from .edges import rename
            rename(self)
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

    def softmax(self, dim: int = -1):
        from .functional import softmax
        return softmax(self, dim)

    def log_softmax(self, dim: int = -1):
        from .functional import log_softmax
        return log_softmax(self, dim)

    def log1p(self): return _elementwise.Log1p().apply(self)
    def expm1(self): return _elementwise.Expm1().apply(self)
    def sign(self): return _elementwise.Sign().apply(self)
    def erf(self): return _elementwise.Erf().apply(self)
    def square(self): return self * self

    def clamp(self, min=None, max=None):
        """Bounds may be numbers or tensors (tensor bounds get gradients where they bind)."""
        return _composite.clamp(self, min, max)

    clip = clamp

    def masked_fill(self, mask, value): return _composite.masked_fill(self, mask, value)

    def where(self, condition, other):
        """self where ``condition`` else ``other`` (torch's ``x.where(c, y)``)."""
        from .functional import where
        return where(condition, self, other)

    # ------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.Sum(_axis(dim, axis), _keep(keepdim, keepdims)).apply(self)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _reduce.mean(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """``x.max()``: the largest value; ``x.max(dim)``: ``(values, indices)`` along ``dim``
        (as torch); ``x.max(other)``: the elementwise maximum. Ties share the gradient evenly
        (torch sends it to the one index it returns; see docs/differences.md)."""
        return _reduce.extremum(self, "max", dim if axis is None else axis,
                                _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """``x.min()``, ``x.min(dim)`` -> ``(values, indices)``, ``x.min(other)``: as ``max``."""
        return _reduce.extremum(self, "min", dim if axis is None else axis,
                                _keep(keepdim, keepdims))

    def prod(self, dim=None, keepdim: bool = False):
        return _reduce.Prod(dim, keepdim).apply(self)

    def std(self, dim=None, keepdim: bool = False, *, correction: int = 1,
            unbiased: bool | None = None):
        return _composite.std(self, dim, keepdim, int(unbiased) if unbiased is not None
                              else correction)

    def norm(self, p=2, dim=None, keepdim: bool = False):
        return _composite.norm(self, p, dim, keepdim)

    def cumsum(self, dim: int): return _order.Cumsum(dim).apply(self)

    def amax(self, dim=(), keepdim: bool = False):
        """The largest value over ``dim`` (an int or a tuple; all axes when empty)."""
        return _reduce.Max(None if dim in ((), None) else dim, keepdim).apply(self)

    def amin(self, dim=(), keepdim: bool = False):
        return _reduce.Min(None if dim in ((), None) else dim, keepdim).apply(self)

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

    def flip(self, *dims): return _order.Flip(_shape_arg(dims)).apply(self)
    def roll(self, shifts, dims=None):
        shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else shifts
        return _order.Roll(shifts, tuple(dims) if isinstance(dims, (list, tuple)) else dims).apply(self)
    def repeat(self, *sizes): return _composite.repeat(self, _shape_arg(sizes))
    def unbind(self, dim: int = 0): return _composite.unbind(self, dim)
    def tril(self, diagonal: int = 0): return _composite.tril(self, diagonal)
    def triu(self, diagonal: int = 0): return _composite.triu(self, diagonal)
    def index_select(self, dim: int, index): return _composite.index_select(self, dim, index)

    def gather(self, dim: int, index):
        """out[i][j] = self[i][index[i][j]] for dim = 1 (torch.gather)."""
        return _gather.Gather(dim, _raw(index)).apply(self)

    def scatter_add(self, dim: int, index, src):
        """A copy of self with src[i][j] added at [i][index[i][j]] (dim = 1)."""
        return _gather.ScatterAdd(dim, _raw(index)).apply(self, _as_tensor(self, src))

    def clone(self) -> "Tensor":
        if self.requires_grad or self._tangent is not None:
            return self + 0
        return Tensor._make(self.data.copy())

    # ------------------------------------------------------------ in place
    # Without a gradient to record an in-place op just writes into ``data`` and bumps the
    # version. When one is needed (grad mode on and this tensor or the value requires grad),
    # the op is recorded as torch does: the out-of-place op runs on ``old`` (a tensor holding
    # this one's previous history), the result is written into this tensor's memory, and this
    # tensor's history is rebased onto the new tape entry. Version counters then catch every
    # tape entry that saved the old values.
    def _inplace(self, op: str, write, record, value=None, snapshot: bool = False) -> "Tensor":
        """``write()`` changes ``data`` when nothing needs recording; otherwise ``record(old)``
        is the recorded out-of-place op (``snapshot``: it saves ``old``'s values, so ``old``
        gets a copy of them)."""
        if (STATE.grad_enabled and (self.requires_grad or (
                isinstance(value, Tensor) and value.requires_grad))) or (
                STATE.forward_ad is not None and (self._tangent is not None or (
                    isinstance(value, Tensor) and value._tangent is not None))):
            # (a tangent is carried through the out-of-place op too, even without grad mode)
            if self._node is None and self.requires_grad and STATE.grad_enabled:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad is being used in an in-place "
                    "operation (that would corrupt its gradient); do it under tg.no_grad() "
                    "(as optimizers do), or use the out-of-place op")
            self._rebase(op, record, snapshot)
        else:
            source = self._view_of[0] if self._view_of is not None else None
            if (STATE.grad_enabled and source is not None and source.requires_grad
                    and source._node is None):
                raise RuntimeError(
                    f"{op}: this tensor is a view of a leaf tensor that requires grad, so an "
                    "in-place change would corrupt that leaf's gradient; do it under tg.no_grad()")
            write()
        return self._bump()

    def _rebase(self, op: str, record, snapshot: bool) -> None:
        """Run ``record(old)`` (the out-of-place op, recorded), copy its result into this
        tensor's memory and make its tape entry this tensor's history."""
        if self._view_of is not None:
            return self._rebase_view(op, record, snapshot)
        old = Tensor._make(self.data.copy() if snapshot else self.data)
        if not snapshot:
            old._base = self if self._base is None else self._base
        old._node, old.requires_grad, old._hooks = self._node, self.requires_grad, self._hooks
        old._tangent = self._tangent
        result = record(old)
        if result.shape != self.shape:
            raise RuntimeError(f"{op}: the result has shape {tuple(result.shape)}, which does "
                               f"not fit in place into shape {tuple(self.shape)}")
        if result.data is not self.data:
            self.data[...] = result.data
        self._previous = (self._previous or ()) + ((self.version, old),)
        self._node, self.requires_grad, self._hooks = result._node, result.requires_grad, None
        self._retains_grad = False
        if result._tangent is not None:
            STATE.forward_ad.attach(self, result._tangent)

    def _rebase_view(self, op: str, record, snapshot: bool) -> None:
        """An in-place op on a slice ``v = base[index]``, recorded as torch: the new values are
        written into base as ``base[index] = op(v)`` (rebasing base's history), and v becomes
        ``base[index]`` of the new base."""
        source, view_op = self._view_of
        if type(view_op).__name__ != "GetItem":
            raise RuntimeError(
                f"{op}: recording an in-place change of a {view_op.name} view is not supported; "
                "write into the tensor it views instead, e.g. base[index] = value "
                "(see docs/differences.md)")
        old = Tensor._make(self.data.copy() if snapshot else self.data)
        old._node, old.requires_grad, old._hooks = self._node, self.requires_grad, self._hooks
        old._tangent = self._tangent
        result = record(old)
        source[view_op.index] = result            # records setitem on the base (recursively)
        fresh = source[view_op.index]
        if fresh._tangent is not None:
            STATE.forward_ad.attach(self, fresh._tangent)
        self._previous = (self._previous or ()) + ((self.version, old),)
        self._node, self.requires_grad, self._hooks = fresh._node, fresh.requires_grad, None
        self._view_of = fresh._view_of

    def _bump(self) -> "Tensor":
        (self if self._base is None else self._base)._version += 1
        STATE.inplace_edits += 1
        return self

    def add_(self, other, alpha: float = 1.0):
        other = other if alpha == 1.0 else other * alpha
        def write(): self.data += _raw(other)
        return self._inplace("add_", write, lambda old: old + other, other)

    def sub_(self, other, alpha: float = 1.0):
        other = other if alpha == 1.0 else other * alpha
        def write(): self.data -= _raw(other)
        return self._inplace("sub_", write, lambda old: old - other, other)

    def mul_(self, other):
        def write(): self.data *= _raw(other)
        return self._inplace("mul_", write, lambda old: old * other, other, snapshot=True)

    def div_(self, other):
        def write(): self.data /= _raw(other)
        return self._inplace("div_", write, lambda old: old / other, other, snapshot=True)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        def write(): self.data[...] = _raw(value)
        return self._inplace("fill_", write, _shape.SetItem(Ellipsis, True).bind(value), value)

    def copy_(self, source):
        """Copy ``source`` (broadcast, cast to this dtype) into this tensor. A source that
        requires grad is recorded, so its gradient flows back from this tensor (torch)."""
        def write(): self.data[...] = _raw(source)
        return self._inplace("copy_", write, _shape.SetItem(Ellipsis, True).bind(source), source)

    def __setitem__(self, index, value) -> None:
        """``x[index] = value``; a value that requires grad is recorded (``outputs[t] = h``
        in a hand-written RNN loop sends h its gradient), as torch's CopySlices."""
        index = _shape.normalize_index(index)
        def write(): self.data[index] = _raw(value)
        self._inplace("__setitem__", write, _shape.SetItem(index, True).bind(value), value)

    def _inplace_of(self, op: str, compute, value=None) -> "Tensor":
        """The in-place form of an out-of-place op ``compute(tensor)`` whose VJP does not read
        its output (so the rebased tensor's later versions cannot matter to it)."""
        def write(): self.data[...] = compute(self).data
        return self._inplace(op, write, compute, value, snapshot=True)

    def masked_fill_(self, mask, value):
        return self._inplace_of("masked_fill_", lambda t: t.masked_fill(mask, value), value)

    def clamp_(self, min=None, max=None):
        bound = min if isinstance(min, Tensor) else max
        return self._inplace_of("clamp_", lambda t: t.clamp(min, max), bound)

    clip_ = clamp_

    def neg_(self): return self._inplace_of("neg_", lambda t: -t)
    def relu_(self): return self._inplace_of("relu_", lambda t: t.relu())

    # x -= lr * x.grad under no_grad updates x itself (torch), not a new tensor
    def __iadd__(self, other): return self.add_(_operand(self, other))
    def __isub__(self, other): return self.sub_(_operand(self, other))
    def __imul__(self, other): return self.mul_(_operand(self, other))
    def __itruediv__(self, other): return self.div_(_operand(self, other))


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
from .ops import composite as _composite  # noqa: E402
from .ops import gather as _gather  # noqa: E402
from .ops import order as _order  # noqa: E402
