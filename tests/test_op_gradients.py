"""Property tests of every op's forward value and VJP (and, for smooth ops, the VJP's VJP).

Each *case* below is a hypothesis strategy drawing an ``Example``: float64 input arrays
(shapes with broadcasting, size-1 and size-0 axes where they make sense), the function to
test (built per device) and the NumPy expression it must equal. Three properties run on
every case, on every device of the ``device`` fixture:

* ``test_forward_and_vjp``: the forward equals NumPy's, the primitive ops the case is about
  are really on the tape, and ``tg.gradcheck`` (central differences in float64) agrees with
  backward;
* ``test_second_order`` (smooth cases): ``tg.gradgradcheck`` agrees too;
* ``test_ops_do_not_mutate``: forward and backward leave the input arrays, the output and
  the incoming gradient unchanged.

``test_every_primitive_op_has_a_case`` fails when an op in ``tinygrad_rnn.ops`` has no case.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn.function import Function
from tinygrad_rnn.ops import xp_of
from tinygrad_rnn.ops.movement import Cast, ToDevice
from tinygrad_rnn.ops.shape import IndexAdd, SetItem, SliceCopy, normalize_index

from strategies import (NONEMPTY_SIDES, REPEATABLE, SIDES, arrays, away_from_zero, axis_args,
                        basic_indices, broadcastable_shapes, broadcastable_to, distinct,
                        integer_indices, mask_indices, separated, shapes, values)


@dataclass
class Example:
    inputs: tuple                  # float64 arrays; each becomes a Tensor that requires grad
    build: Callable                # build(device) -> f(*tensors) -> Tensor or tuple of Tensors
    reference: Callable            # reference(*inputs) -> the expected output(s), in NumPy
    tolerance: dict = field(default_factory=dict)   # gradcheck's eps/atol/rtol, if not default


@dataclass
class Case:
    name: str
    examples: object               # hypothesis strategy of Example
    ops: tuple                     # names of the primitive ops that must be on the tape
    smooth: bool                   # also checked to second order


CASES: dict[str, Case] = {}


def case(name: str, ops=(), smooth: bool = False):
    """Register a composite strategy (drawing an Example) as a case."""
    def register(composite):
        CASES[name] = Case(name, composite(), tuple(ops), smooth)
        return composite
    return register


def simple(f):
    """An Example's ``build`` for a function that needs no device-specific constants."""
    return lambda device: f


def on(device, array):
    """A constant (non-differentiable) tensor on ``device``: targets, masks, indices."""
    return tg.Tensor(array, device=device)


# =============================================================== elementwise: binary

def _binary(name, f, reference, ops, right=arrays):
    @case(name, ops=ops, smooth=True)
    @st.composite
    def strategy(draw):
        shape_a, shape_b = draw(broadcastable_shapes(2))
        a, b = draw(arrays(shape_a)), draw(right(shape_b))
        return Example((a, b), simple(f), reference)


_binary("add", lambda a, b: a + b, np.add, ["Add"])
_binary("sub", lambda a, b: a - b, np.subtract, ["Sub"])
_binary("mul", lambda a, b: a * b, np.multiply, ["Mul"])
_binary("div", lambda a, b: a / b, np.divide, ["Div"], right=away_from_zero)


@case("scalar_operands", ops=["Add", "Sub", "Mul", "Div"], smooth=True)
@st.composite
def _scalar_operands(draw):
    """Python numbers on either side of + - * / (reflected operators included)."""
    x = draw(arrays(draw(shapes())))
    c = draw(values(0.5, 2.0))
    f = lambda x: (c - x) * 2.0 + 0.5 + x / c - 3.0 / (x + 3.0) + c * x - 0.25   # noqa: E731
    return Example((x,), simple(f), f)


@case("pow_tensor_scalar", ops=["Pow"], smooth=True)
@st.composite
def _pow_tensor_scalar(draw):
    exponent = draw(st.sampled_from([2, 3, 1, 0, -1, -2, 0.5, 1.5, -0.5, 2.5, -1.5]))
    shape = draw(shapes())
    if isinstance(exponent, float):          # a fractional power needs a positive base
        x = draw(arrays(shape, 0.3, 2.0))
    elif exponent < 0:
        x = draw(away_from_zero(shape, 0.3))
    else:
        x = draw(arrays(shape))
    note(f"exponent={exponent!r}")
    return Example((x,), simple(lambda x: x ** exponent), lambda x: np.power(x, exponent))


@case("pow_tensor_tensor", ops=["Pow"], smooth=True)
@st.composite
def _pow_tensor_tensor(draw):
    shape_a, shape_b = draw(broadcastable_shapes(2))
    base, exponent = draw(arrays(shape_a, 0.3, 2.0)), draw(arrays(shape_b, -2.0, 2.0))
    return Example((base, exponent), simple(lambda a, b: a ** b), np.power)


@case("pow_scalar_tensor", ops=["Pow"], smooth=True)
@st.composite
def _pow_scalar_tensor(draw):
    base = draw(st.sampled_from([2.0, 0.5, math.e, 3.0, 1.5]))
    x = draw(arrays(draw(shapes())))
    return Example((x,), simple(lambda x: base ** x), lambda x: np.power(base, x))


# =============================================================== elementwise: unary

def _unary(name, f, reference, ops, lo=-2.0, hi=2.0, avoid=(), smooth=True):
    @case(name, ops=ops, smooth=smooth)
    @st.composite
    def strategy(draw):
        x = draw(arrays(draw(shapes()), lo, hi, avoid))
        return Example((x,), simple(f), reference)


_unary("neg", lambda x: -x, np.negative, ["Neg"])
_unary("exp", lambda x: x.exp(), np.exp, ["Exp"])
_unary("log", lambda x: x.log(), np.log, ["Log"], lo=0.1, hi=3.0)
_unary("sqrt", lambda x: x.sqrt(), np.sqrt, ["Sqrt"], lo=0.1, hi=3.0)
_unary("tanh", lambda x: x.tanh(), np.tanh, ["Tanh"], lo=-3.0, hi=3.0)
_unary("sigmoid", lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), ["Sigmoid"],
       lo=-4.0, hi=4.0)
_unary("softplus", F.softplus, lambda x: np.logaddexp(0.0, x), ["Softplus"], lo=-4.0, hi=4.0)
_unary("sin", lambda x: x.sin(), np.sin, ["Sin"], lo=-3.0, hi=3.0)
_unary("cos", lambda x: x.cos(), np.cos, ["Cos"], lo=-3.0, hi=3.0)
_unary("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0.0), ["Relu"], avoid=(0.0,),
       smooth=False)
_unary("abs", lambda x: x.abs(), np.abs, ["Abs"], avoid=(0.0,), smooth=False)


def _extremum(name, method, reference, op):
    @case(name, ops=[op])
    @st.composite
    def strategy(draw):
        shape_a, shape_b = draw(broadcastable_shapes(2))
        a = draw(arrays(shape_a))
        if draw(st.booleans()):
            b = draw(arrays(shape_b))
            assume(separated(a, b))
            return Example((a, b), simple(lambda x, y: getattr(x, method)(y)), reference)
        c = draw(values())                         # a Python number as the other operand
        assume(separated(a, c))
        function = getattr(tg, method)
        return Example((a,), simple(lambda x: function(c, x)), lambda x: reference(x, c))


_extremum("maximum", "maximum", np.maximum, "Maximum")
_extremum("minimum", "minimum", np.minimum, "Minimum")


@case("clamp", ops=["Clamp"])
@st.composite
def _clamp(draw):
    which = draw(st.sampled_from(["min", "max", "both"]))
    low = draw(values(-1.5, 0.0)) if which != "max" else None
    high = draw(values(0.0, 1.5)) if which != "min" else None
    bounds = [v for v in (low, high) if v is not None]
    x = draw(arrays(draw(shapes()), avoid=bounds))
    note(f"clamp(min={low}, max={high})")

    def reference(x):
        y = x if low is None else np.maximum(x, low)
        return y if high is None else np.minimum(y, high)
    return Example((x,), simple(lambda x: x.clamp(low, high)), reference)


@case("where", ops=["Where"], smooth=True)
@st.composite
def _where(draw):
    shape_c, shape_a, shape_b = draw(broadcastable_shapes(3))
    condition = draw(hnp.arrays(np.bool_, shape_c, elements=st.booleans()))
    a = draw(arrays(shape_a))
    if draw(st.booleans()):
        b = draw(arrays(shape_b))
        return Example((a, b), lambda d: lambda x, y: tg.where(on(d, condition), x, y),
                       lambda x, y: np.where(condition, x, y))
    return Example((a,), lambda d: lambda x: tg.where(on(d, condition), 0.5, x),
                   lambda x: np.where(condition, 0.5, x))


# =============================================================== reductions

@case("sum", ops=["Sum"], smooth=True)
@st.composite
def _sum(draw):
    shape = draw(shapes())
    axis, keepdims = draw(axis_args(len(shape))), draw(st.booleans())
    x = draw(arrays(shape))
    note(f"axis={axis}, keepdims={keepdims}")
    if draw(st.booleans()):
        f = lambda x: x.sum(axis, keepdims)                         # noqa: E731
    else:
        f = lambda x: x.sum(axis=axis, keepdims=keepdims)           # noqa: E731
    return Example((x,), simple(f), lambda x: np.sum(x, axis=axis, keepdims=keepdims))


def _max_min(name, method, op):
    """x.amax(dims) (an int or a tuple), x.max() (all axes) and x.max(dim) -> (values, indices)."""
    @case(name, ops=[op])
    @st.composite
    def strategy(draw):
        shape = draw(shapes(empty=False))
        axis, keepdims = draw(axis_args(len(shape))), draw(st.booleans())
        x = draw(arrays(shape))
        assume(distinct(x))
        form = draw(st.sampled_from(["amax", "max"]))
        note(f"{form}: axis={axis}, keepdims={keepdims}")
        whole = None if axis == () else axis        # amax(()) reduces every axis (torch)
        reference = lambda x: getattr(np, method)(x, axis=whole, keepdims=keepdims)  # noqa: E731
        if form == "max" and isinstance(axis, int):
            arg = getattr(np, "arg" + method)
            return Example((x,), simple(lambda x: getattr(x, method)(axis, keepdims)),
                           lambda x: (reference(x), _arg_reference(arg, x, axis, keepdims)))
        if form == "max" and axis is None:
            return Example((x,), simple(lambda x: getattr(x, method)()),
                           lambda x: getattr(np, method)(x))
        return Example((x,), simple(lambda x: getattr(x, "a" + method)(axis, keepdims)),
                       reference)


def _arg_reference(arg, x, axis, keepdims):
    found = arg(x, axis=axis)
    return np.expand_dims(found, axis) if keepdims else found


_max_min("max", "max", "Max")
_max_min("min", "min", "Min")


def _reduced_count(shape, axis) -> int:
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


@case("mean", ops=["Sum", "Div"])
@st.composite
def _mean(draw):
    shape = draw(shapes())
    axis, keepdims = draw(axis_args(len(shape))), draw(st.booleans())
    assume(_reduced_count(shape, axis) > 0)        # NumPy's mean of nothing is NaN
    x = draw(arrays(shape))
    note(f"axis={axis}, keepdims={keepdims}")
    return Example((x,), simple(lambda x: x.mean(axis, keepdims)),
                   lambda x: np.mean(x, axis=axis, keepdims=keepdims))


@case("var", ops=["Sum", "Sub", "Mul", "Div"], smooth=True)
@st.composite
def _var(draw):
    shape = draw(shapes(min_dims=1))
    axis, keepdims = draw(axis_args(len(shape))), draw(st.booleans())
    correction = draw(st.sampled_from([0, 1]))
    assume(_reduced_count(shape, axis) > correction)
    x = draw(arrays(shape))
    note(f"axis={axis}, keepdims={keepdims}, correction={correction}")
    return Example((x,), simple(lambda x: x.var(axis, keepdims, correction=correction)),
                   lambda x: np.var(x, axis=axis, keepdims=keepdims, ddof=correction))


def _np_logsumexp(x, axis=None, keepdims=False):
    shift = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else None)


@case("logsumexp", ops=["Exp", "Sum", "Log"], smooth=True)
@st.composite
def _logsumexp(draw):
    shape = draw(shapes(empty=False))
    axis, keepdims = draw(axis_args(len(shape))), draw(st.booleans())
    x = draw(arrays(shape, -3.0, 3.0))
    note(f"axis={axis}, keepdims={keepdims}")
    return Example((x,), simple(lambda x: x.logsumexp(axis, keepdims)),
                   lambda x: _np_logsumexp(x, axis, keepdims))


# =============================================================== matmul and linear

@case("matmul", ops=["MatMul"], smooth=True)
@st.composite
def _matmul(draw):
    kind = draw(st.sampled_from(["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched"]))
    k, n, m = draw(SIDES), draw(SIDES), draw(SIDES)
    batch_a = batch_b = ()
    if kind == "batched":
        batch = draw(shapes(min_dims=1, max_dims=2))
        batch_a, batch_b = draw(broadcastable_to(batch)), draw(broadcastable_to(batch))
    # batched: now and then one operand is a vector against a batched other one
    left_vector = kind.startswith("1d") or (kind == "batched" and bool(batch_b)
                                            and draw(st.booleans()))
    right_vector = kind.endswith("1d") or (kind == "batched" and not left_vector
                                           and bool(batch_a) and draw(st.booleans()))
    shape_a = (n,) if left_vector else batch_a + (k, n)
    shape_b = (n,) if right_vector else batch_b + (n, m)
    a, b = draw(arrays(shape_a)), draw(arrays(shape_b))
    note(f"{kind}: {shape_a} @ {shape_b}")
    f = (lambda x, y: x @ y) if draw(st.booleans()) else tg.matmul
    return Example((a, b), simple(f), np.matmul)


@case("linear", ops=["Linear"], smooth=True)
@st.composite
def _linear(draw):
    batch = draw(shapes(max_dims=2))
    n_in, n_out = draw(NONEMPTY_SIDES), draw(NONEMPTY_SIDES)
    x, w = draw(arrays(batch + (n_in,))), draw(arrays((n_out, n_in)))
    if draw(st.booleans()):
        b = draw(arrays((n_out,)))
        return Example((x, w, b), simple(F.linear), lambda x, w, b: x @ w.T + b)
    return Example((x, w), simple(F.linear), lambda x, w: x @ w.T)


# =============================================================== shape ops

@case("reshape", ops=["Reshape"], smooth=True)
@st.composite
def _reshape(draw):
    shape = draw(shapes(max_dims=4))
    target = list(draw(st.permutations(list(shape))))
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and math.prod(shape) and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    target = tuple(target)
    x = draw(arrays(shape))
    form = draw(st.sampled_from(["reshape(*s)", "reshape(s)", "view(s)"]))
    note(f"{shape} -> {form} with s={target}")
    f = {"reshape(*s)": lambda x: x.reshape(*target), "reshape(s)": lambda x: x.reshape(target),
         "view(s)": lambda x: x.view(target)}[form]
    return Example((x,), simple(f), lambda x: x.reshape(target))


@case("permute", ops=["Permute"], smooth=True)
@st.composite
def _permute(draw):
    shape = draw(shapes(max_dims=4))
    dims = tuple(d - len(shape) if draw(st.booleans()) else d
                 for d in draw(st.permutations(range(len(shape)))))
    x = draw(arrays(shape))
    note(f"permute{dims}")
    return Example((x,), simple(lambda x: x.permute(*dims)), lambda x: np.transpose(x, dims))


@case("broadcast", ops=["BroadcastTo"], smooth=True)
@st.composite
def _broadcast(draw):
    target = draw(shapes(max_dims=3))
    shape = draw(broadcastable_to(target))
    assume(shape != target)                  # expand would return the input itself
    x = draw(arrays(shape))
    if draw(st.booleans()):
        f = lambda x: x.broadcast_to(target)                            # noqa: E731
    else:                                    # expand, with -1 for the axes it keeps
        lead = len(target) - len(shape)
        sizes = tuple(-1 if i >= lead and shape[i - lead] == side and draw(st.booleans())
                      else side for i, side in enumerate(target))
        note(f"expand{sizes}")
        f = lambda x: x.expand(*sizes)                                  # noqa: E731
    return Example((x,), simple(f), lambda x: np.broadcast_to(x, target))


def _index_with(device, index, form: str):
    """``index`` with its integer/boolean arrays given as NumPy arrays, lists or Tensors."""
    def convert(part):
        if not isinstance(part, np.ndarray):
            return part
        if form == "list" and part.size == 0 and part.ndim > 1:
            return part   # [] cannot say "shape (0, 1)": an empty nested index stays an array
        return part.tolist() if form == "list" else on(device, part) if form == "tensor" else part
    return tuple(convert(p) for p in index) if isinstance(index, tuple) else convert(index)


@case("getitem_basic", ops=["GetItem"], smooth=True)
@st.composite
def _getitem_basic(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, sides=st.sampled_from([1, 2, 3, 4, 0])))
    index = draw(basic_indices(shape))
    x = draw(arrays(shape))
    note(f"x{shape}[{index!r}]")
    return Example((x,), simple(lambda x: x[index]), lambda x: x[index])


@case("slice_copy", ops=["SliceCopy"], smooth=True)
@st.composite
def _slice_copy(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, sides=st.sampled_from([1, 2, 3, 0])))
    index = draw(basic_indices(shape))
    x = draw(arrays(shape))
    note(f"x{shape}[{index!r}], copied")
    return Example((x,), simple(lambda x: SliceCopy(normalize_index(index)).apply(x)),
                   lambda x: x[index])


@case("getitem_integer_arrays", ops=["GetItem"], smooth=True)
@st.composite
def _getitem_integer_arrays(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, sides=st.sampled_from([1, 2, 3, 4])))
    index = draw(integer_indices(shape))
    form = draw(st.sampled_from(["numpy", "list", "tensor"]))
    x = draw(arrays(shape))
    note(f"x{shape}[{index!r}] as {form}")
    return Example((x,), lambda d: lambda x: x[_index_with(d, index, form)],
                   lambda x: x[index])


@case("getitem_boolean_mask", ops=["GetItem"])
@st.composite
def _getitem_boolean_mask(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    index = draw(mask_indices(shape))
    form = draw(st.sampled_from(["numpy", "tensor"]))
    x = draw(arrays(shape))
    note(f"x{shape}[{index!r}] as {form}")
    return Example((x,), lambda d: lambda x: x[_index_with(d, index, form)],
                   lambda x: x[index])


def _index_add_reference(index, shape):
    """IndexAdd as the transpose of gathering: each element of g lands on the flat position
    that x[index] read it from, repeated positions summed (independent of the op's code)."""
    positions = np.arange(math.prod(shape)).reshape(shape)[index]

    def reference(g):
        return np.bincount(positions.reshape(-1), weights=g.reshape(-1),
                           minlength=math.prod(shape)).reshape(shape).astype(np.float64)
    return reference


@case("index_add", ops=["IndexAdd"], smooth=True)
@st.composite
def _index_add(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, sides=st.sampled_from([1, 2, 3, 4])))
    index = draw(basic_indices(shape) | integer_indices(shape))
    g = draw(arrays(np.zeros(shape)[index].shape))
    note(f"IndexAdd({index!r}, {shape})")

    def build(device):
        placed = _index_with(device, index, "tensor")
        placed = (tuple(p.data if isinstance(p, tg.Tensor) else p for p in placed)
                  if isinstance(placed, tuple) else placed)
        return lambda g: IndexAdd(placed, shape).apply(g)
    return Example((g,), build, _index_add_reference(index, shape))


@case("setitem", ops=["SetItem"], smooth=True)
@st.composite
def _setitem(draw):
    """y = x with v written at an index (basic, or integer arrays without repeats): the
    out-of-place form of x[index] = v, which in-place setitem and copy_ record."""
    shape = draw(shapes(min_dims=1, max_dims=3, sides=st.sampled_from([1, 2, 3, 4])))
    index = draw(basic_indices(shape, allow_none=False) | integer_indices(shape) |
                 st.just(Ellipsis))
    target = np.zeros(shape)[index].shape
    positions = np.arange(math.prod(shape)).reshape(shape)[index]
    assume(np.unique(positions).size == positions.size)   # a repeated position: last write wins
    value_shape = draw(broadcastable_to(target))
    x, v = draw(arrays(shape)), draw(arrays(value_shape))
    note(f"x{shape}[{index!r}] = v{value_shape}")

    def reference(x, v):
        out = x.copy()
        out[index] = v
        return out

    def build(device):
        placed = _index_with(device, index, "tensor")
        placed = (tuple(p.data if isinstance(p, tg.Tensor) else p for p in placed)
                  if isinstance(placed, tuple) else placed)
        return lambda x, v: SetItem(placed).apply(x, v)
    return Example((x, v), build, reference)


@case("concat", ops=["Concat"], smooth=True)
@st.composite
def _concat(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        piece = list(shape)
        piece[axis] = draw(SIDES)
        pieces.append(draw(arrays(tuple(piece))))
    f = tg.cat if draw(st.booleans()) else F.concat
    note(f"cat({[p.shape for p in pieces]}, dim={axis})")
    return Example(tuple(pieces), simple(lambda *xs: f(list(xs), dim=axis)),
                   lambda *xs: np.concatenate(xs, axis=axis))


@case("stack", ops=["Stack"], smooth=True)
@st.composite
def _stack(draw):
    shape = draw(shapes(max_dims=2))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    pieces = tuple(draw(arrays(shape)) for _ in range(draw(st.integers(1, 3))))
    note(f"stack({len(pieces)} x {shape}, dim={axis})")
    return Example(pieces, simple(lambda *xs: tg.stack(list(xs), dim=axis)),
                   lambda *xs: np.stack(xs, axis=axis))


@case("pad", ops=["Pad"], smooth=True)
@st.composite
def _pad(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    padded = draw(st.integers(0, len(shape)))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * padded)]
    value = draw(values())
    x = draw(arrays(shape))
    widths = [(0, 0)] * len(shape)
    for i in range(padded):
        widths[len(shape) - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    note(f"pad({shape}, {pads}, value={value})")
    return Example((x,), simple(lambda x: F.pad(x, pads, value)),
                   lambda x: np.pad(x, widths, constant_values=value))


@case("squeeze_unsqueeze", ops=[])
@st.composite
def _squeeze_unsqueeze(draw):
    shape = draw(shapes(max_dims=3, sides=st.sampled_from([1, 1, 2, 3, 0])))
    x = draw(arrays(shape))
    kind = draw(st.sampled_from(["squeeze()", "squeeze(d)", "unsqueeze(d)"]))
    if kind == "unsqueeze(d)":
        dim = draw(st.integers(-len(shape) - 1, len(shape)))
        f, reference = (lambda x: x.unsqueeze(dim)), (lambda x: np.expand_dims(x, dim))
    elif kind == "squeeze(d)" and shape:
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        f = lambda x: x.squeeze(dim)                                    # noqa: E731
        reference = (lambda x: np.squeeze(x, dim)) if shape[dim] == 1 else (lambda x: x)
    else:
        dim = None
        f, reference = (lambda x: x.squeeze()), np.squeeze
    note(f"{shape}.{kind} with d={dim}")
    return Example((x,), simple(f), reference)


@case("transpose", ops=["Permute"])
@st.composite
def _transpose(draw):
    shape = draw(shapes(min_dims=1, max_dims=4))
    dim0, dim1 = (draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    x = draw(arrays(shape))
    return Example((x,), simple(lambda x: x.transpose(dim0, dim1)),
                   lambda x: np.swapaxes(x, dim0, dim1))


@case("T_and_mT", ops=["Permute"])
@st.composite
def _t_and_mt(draw):
    if draw(st.booleans()):
        x = draw(arrays(draw(shapes(max_dims=3))))
        return Example((x,), simple(lambda x: x.T), lambda x: x.T)
    x = draw(arrays(draw(shapes(min_dims=2, max_dims=4))))
    return Example((x,), simple(lambda x: x.mT), lambda x: np.swapaxes(x, -2, -1))


@case("flatten", ops=["Reshape"])
@st.composite
def _flatten(draw):
    shape = draw(shapes(min_dims=1, max_dims=4))
    start = draw(st.integers(-len(shape), len(shape) - 1))
    end = draw(st.integers(start % len(shape), len(shape) - 1))
    end = end - len(shape) if draw(st.booleans()) else end
    x = draw(arrays(shape))
    s, e = start % len(shape), end % len(shape)
    target = shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:]
    return Example((x,), simple(lambda x: x.flatten(start, end)), lambda x: x.reshape(target))


def _split_reference(sizes, dim):
    def reference(x):
        cuts = np.cumsum(sizes)[:-1]
        return tuple(np.split(x, cuts, axis=dim))
    return reference


@case("split", ops=["GetItem"])
@st.composite
def _split(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    total = shape[dim]
    x = draw(arrays(shape))
    if total and draw(st.booleans()):
        size = draw(st.integers(1, total + 1))
        sizes = [size] * (total // size) + ([total % size] if total % size else [])
        arg = size
    else:
        cuts = sorted(draw(st.lists(st.integers(0, total), max_size=3)))
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [total])]
        arg = sizes
    note(f"split({shape}, {arg}, dim={dim})")
    f = (lambda x: x.split(arg, dim)) if draw(st.booleans()) else (lambda x: tg.split(x, arg, dim))
    return Example((x,), simple(f), _split_reference(sizes, dim))


@case("chunk", ops=["GetItem"])
@st.composite
def _chunk(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    chunks = draw(st.integers(1, 4))
    total = shape[dim]
    size = -(-total // chunks)
    sizes = [size] * (total // size) + ([total % size] if total % size else [])
    x = draw(arrays(shape))
    note(f"chunk({shape}, {chunks}, dim={dim})")
    return Example((x,), simple(lambda x: x.chunk(chunks, dim)), _split_reference(sizes, dim))


# =============================================================== softmax family and dtypes

def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_case(name, f, reference, op):
    @case(name, ops=[op], smooth=True)
    @st.composite
    def strategy(draw):
        shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        x = draw(arrays(shape, -3.0, 3.0))
        note(f"axis={axis}")
        return Example((x,), simple(lambda x: f(x, axis)), lambda x: reference(x, axis))


_softmax_case("softmax", F.softmax, _np_softmax, "Softmax")
_softmax_case("log_softmax", F.log_softmax, lambda x, a: np.log(_np_softmax(x, a)), "LogSoftmax")


@case("cast", ops=["Cast"])
@st.composite
def _cast(draw):
    """float64 -> float32 (and back). The values sit on a 2^-8 grid and eps is 2^-10, so
    x +- eps is exact in float32 and the finite differences are exact."""
    x = draw(hnp.arrays(np.float64, draw(shapes()),
                        elements=st.integers(-512, 512).map(lambda k: k / 256)))
    kind = draw(st.sampled_from(["float()", "to(float32).double()", "Cast(float64)"]))
    f = {"float()": lambda x: x.float(),
         "to(float32).double()": lambda x: x.to("float32").double() * 1.5,
         "Cast(float64)": lambda x: Cast(np.dtype("float64")).apply(x)}[kind]
    reference = {"float()": lambda x: x.astype(np.float32),
                 "to(float32).double()": lambda x: x.astype(np.float32).astype(np.float64) * 1.5,
                 "Cast(float64)": lambda x: x}[kind]
    note(kind)
    return Example((x,), simple(f), reference, tolerance=dict(eps=2.0 ** -10))


@case("to_device", ops=["ToDevice"])
@st.composite
def _to_device(draw):
    x = draw(arrays(draw(shapes())))
    return Example((x,), lambda d: lambda x: ToDevice(d).apply(x) * 2.0, lambda x: x * 2.0)


# =============================================================== composites: losses, embedding

def _np_cross_entropy(logits, target, ignore_index, reduction, weight=None):
    out_shape = np.shape(target)
    if logits.ndim == 1:
        logits, target = logits[None], np.reshape(target, (1,))
    if logits.ndim > 2:
        logits = np.moveaxis(logits, 1, -1).reshape(-1, logits.shape[1])
        target = np.reshape(target, -1)
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    kept = keep if weight is None else keep * weight[safe]
    picked = logits[np.arange(len(target)), safe]
    losses = (_np_logsumexp(logits, axis=1) - picked) * kept
    if reduction == "mean":
        return losses.sum() / kept.sum()
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(out_shape)


def _class_targets(draw, c: int, target_shape: tuple):
    ignore_index = draw(st.sampled_from([-100, -1, 1]))
    classes = st.integers(0, c - 1) | st.just(ignore_index)
    target = draw(hnp.arrays(np.int64, target_shape, elements=classes))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    assume(reduction != "mean" or (target != ignore_index).any())  # else NaN (test_item9_...)
    return target, ignore_index, reduction


@case("cross_entropy", ops=["CrossEntropy"], smooth=True)
@st.composite
def _cross_entropy(draw):
    """(N, C) logits and class indices: the fused entry (log_softmax and nll_loss in one)."""
    n, c = draw(SIDES), draw(NONEMPTY_SIDES.map(lambda v: v + 1))
    target, ignore_index, reduction = _class_targets(draw, c, (n,))
    weight = draw(st.none() | arrays((c,), 0.5, 2.0))
    logits = draw(arrays((n, c), -3.0, 3.0))
    note(f"logits {(n, c)}, target {target!r}, ignore_index={ignore_index}, weight={weight}, "
         f"{reduction}")
    return Example(
        (logits,),
        lambda dev: lambda x: F.cross_entropy(
            x, on(dev, target), None if weight is None else on(dev, weight),
            ignore_index=ignore_index, reduction=reduction),
        lambda x: _np_cross_entropy(x, target, ignore_index, reduction, weight))


@case("cross_entropy_other_layouts", ops=["LogSoftmax", "NllLoss"], smooth=True)
@st.composite
def _cross_entropy_other_layouts(draw):
    """(C,) and (N, C, d) logits: log_softmax, then nll_loss."""
    layout = draw(st.sampled_from(["(C,)", "(N, C, d)"]))
    n, c, d = draw(SIDES), draw(NONEMPTY_SIDES.map(lambda v: v + 1)), draw(NONEMPTY_SIDES)
    shape, target_shape = {"(C,)": ((c,), ()), "(N, C, d)": ((n, c, d), (n, d))}[layout]
    target, ignore_index, reduction = _class_targets(draw, c, target_shape)
    logits = draw(arrays(shape, -3.0, 3.0))
    note(f"logits {shape}, target {target!r}, ignore_index={ignore_index}, {reduction}")
    return Example(
        (logits,),
        lambda dev: lambda x: F.cross_entropy(x, on(dev, target), ignore_index=ignore_index,
                                              reduction=reduction),
        lambda x: _np_cross_entropy(x, target, ignore_index, reduction))


@case("binary_cross_entropy_with_logits", ops=["Softplus", "Mul", "Sub"])
@st.composite
def _bce_with_logits(draw):
    shape = draw(shapes())
    logits, target = draw(arrays(shape, -4.0, 4.0)), draw(arrays(shape, 0.0, 1.0))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    assume(reduction != "mean" or logits.size)     # NumPy's mean of nothing is NaN

    def reference(x, y):
        losses = np.logaddexp(0.0, x) - x * y
        return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)
    return Example((logits, target), simple(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction)), reference)


@case("mse_loss", ops=["Sub", "Mul"], smooth=True)
@st.composite
def _mse_loss(draw):
    shape = draw(shapes())
    prediction, target = draw(arrays(shape)), draw(arrays(shape))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    assume(reduction != "mean" or prediction.size)

    def reference(p, t):
        return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]((p - t) ** 2)
    return Example((prediction, target),
                   simple(lambda p, t: F.mse_loss(p, t, reduction=reduction)), reference)


@case("embedding", ops=["GetItem"])
@st.composite
def _embedding(draw):
    vocabulary, width = draw(st.integers(1, 4)), draw(NONEMPTY_SIDES)
    indices = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2)),
                              elements=st.integers(0, vocabulary - 1)))
    weight = draw(arrays((vocabulary, width)))
    note(f"embedding({indices!r}, weight {weight.shape})")
    return Example((weight,), lambda d: lambda w: F.embedding(on(d, indices), w),
                   lambda w: w[indices])


# =============================================================== everyday ops (issue 10)

_unary("log1p", lambda x: x.log1p(), np.log1p, ["Log1p"], lo=-0.9, hi=3.0)
_unary("expm1", lambda x: x.expm1(), np.expm1, ["Expm1"])
_unary("sign", lambda x: x.sign(), np.sign, ["Sign"], avoid=(0.0,), smooth=False)
_unary("erf", lambda x: x.erf(), np.vectorize(math.erf, otypes=[np.float64]), ["Erf"])
_unary("square", lambda x: x.square(), np.square, ["Mul"])
_unary("gelu", F.gelu, lambda x: x * 0.5 * (1 + np.vectorize(math.erf, otypes=[float])(
    x / math.sqrt(2))), ["Gelu"])
_unary("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: 0.5 * x * (1 + np.tanh(
    math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), ["Tanh"])
_unary("silu", F.silu, lambda x: x / (1 + np.exp(-x)), ["Sigmoid", "Mul"], lo=-4.0, hi=4.0)
_unary("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0.0, -x), ["Softplus"], lo=-4.0,
       hi=4.0)
_unary("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
       ["Where"], avoid=(0.0,))
_unary("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
       ["Where", "Expm1"], avoid=(0.0,))


@case("gather", ops=["Gather"], smooth=True)
@st.composite
def _gather(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, 3)) if d == dim % len(shape) else
                        draw(st.integers(1, side)) for d, side in enumerate(shape))
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[dim] - 1)))
    x = draw(arrays(shape))
    note(f"gather({shape}, dim={dim}, index={index!r})")

    def reference(x):
        region = x[tuple(slice(0, n) if d != dim % x.ndim else slice(None)
                         for d, n in enumerate(index_shape))]
        return np.take_along_axis(region, index, axis=dim)
    return Example((x,), lambda d: lambda x: x.gather(dim, on(d, index)), reference)


@case("scatter_add", ops=["ScatterAdd"], smooth=True)
@st.composite
def _scatter_add(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, 3)) if d == dim % len(shape) else
                        draw(st.integers(1, side)) for d, side in enumerate(shape))
    src_shape = tuple(n + draw(st.integers(0, 1)) for n in index_shape)
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[dim] - 1)))
    x, src = draw(arrays(shape)), draw(arrays(src_shape))
    note(f"scatter_add({shape}, dim={dim}, index={index!r}, src {src_shape})")

    def reference(x, src):
        out = x.copy()
        for position in np.ndindex(*index_shape):
            target = list(position)
            target[dim % x.ndim] = index[position]
            out[tuple(target)] += src[position]
        return out
    return Example((x, src), lambda d: lambda x, s: x.scatter_add(dim, on(d, index), s),
                   reference)


@case("index_select", ops=["GetItem"], smooth=True)
@st.composite
def _index_select(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index = draw(hnp.arrays(np.int64, (draw(st.integers(0, 4)),),
                            elements=st.integers(0, shape[dim] - 1)))
    x = draw(arrays(shape))
    return Example((x,), lambda d: lambda x: x.index_select(dim, on(d, index)),
                   lambda x: np.take(x, index, axis=dim))


def _along_axis(name, f, reference, ops, empty=True):
    @case(name, ops=ops, smooth=True)
    @st.composite
    def strategy(draw):
        shape = draw(shapes(min_dims=1, max_dims=3, empty=empty))
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        x = draw(arrays(shape))
        note(f"{name}({shape}, dim={dim})")
        return Example((x,), simple(lambda x: f(x, dim)), lambda x: reference(x, dim))


_along_axis("cumsum", lambda x, d: x.cumsum(d), lambda x, d: np.cumsum(x, axis=d), ["Cumsum"])
_along_axis("flip", lambda x, d: x.flip(d), lambda x, d: np.flip(x, axis=d), ["Flip"])
_along_axis("roll", lambda x, d: x.roll(2, d), lambda x, d: np.roll(x, 2, axis=d), ["Roll"])
_along_axis("unbind", lambda x, d: x.unbind(d),
            lambda x, d: tuple(np.moveaxis(x, d, 0)), ["GetItem"], empty=False)


@case("prod", ops=["Prod"], smooth=True)
@st.composite
def _prod(draw):
    shape = draw(shapes(max_dims=3))
    axis = draw(st.none() | (st.integers(-len(shape), len(shape) - 1) if shape else st.none()))
    keepdims = draw(st.booleans()) and axis is not None
    x = draw(arrays(shape))
    if draw(st.booleans()) and x.size:             # a zero in x: no division by it
        x.reshape(-1)[draw(st.integers(0, x.size - 1))] = 0.0
    note(f"prod(axis={axis}, keepdims={keepdims})")
    return Example((x,), simple(lambda x: x.prod(axis, keepdims)),
                   lambda x: np.prod(x, axis=axis, keepdims=keepdims))


@case("std", ops=["Sqrt", "Sum"], smooth=True)
@st.composite
def _std(draw):
    shape = draw(shapes(min_dims=1, empty=False))
    axis = draw(axis_args(len(shape)))
    assume(axis != () and _reduced_count(shape, axis) > 1)
    x = draw(arrays(shape))
    assume(np.std(x, axis=axis).min() > 0.05)       # sqrt's kink at 0 is out of reach
    return Example((x,), simple(lambda x: x.std(axis)), lambda x: np.std(x, axis=axis, ddof=1))


@case("norm", ops=["Abs"], smooth=False)
@st.composite
def _norm(draw):
    """Every p but 2 (that one is the Norm primitive's case below)."""
    shape = draw(shapes(min_dims=1, empty=False))
    p = draw(st.sampled_from([1, 3, 0.5, math.inf, -math.inf]))
    dim = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    x = draw(arrays(shape, avoid=(0.0,)))
    assume(not math.isinf(p) or distinct(np.abs(x)))
    keepdim = draw(st.booleans())
    note(f"norm(p={p}, dim={dim}, keepdim={keepdim})")

    def reference(x):
        a = np.abs(x)
        if math.isinf(p):
            return (np.max if p > 0 else np.min)(a, axis=dim, keepdims=keepdim)
        return np.sum(a ** p, axis=dim, keepdims=keepdim) ** (1 / p)
    return Example((x,), simple(lambda x: x.norm(p, dim, keepdim)), reference)


@case("norm_2", ops=["Norm"], smooth=True)
@st.composite
def _norm_2(draw):
    shape = draw(shapes(min_dims=1, empty=False))
    dim = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    x = draw(arrays(shape))
    assume(np.sqrt(np.sum(x * x, axis=dim)).min() > 0.05)
    f = (lambda x: x.norm(dim=dim)) if draw(st.booleans()) else (lambda x: x.norm("fro", dim))
    return Example((x,), simple(f), lambda x: np.sqrt(np.sum(x * x, axis=dim)))


@case("tril_triu", ops=["Where"], smooth=True)
@st.composite
def _tril_triu(draw):
    shape = draw(shapes(min_dims=2, max_dims=3))
    k = draw(st.integers(-2, 2))
    lower = draw(st.booleans())
    x = draw(arrays(shape))
    note(f"{'tril' if lower else 'triu'}({shape}, {k})")
    if lower:
        return Example((x,), simple(lambda x: x.tril(k)), lambda x: np.tril(x, k))
    return Example((x,), simple(lambda x: x.triu(k)), lambda x: np.triu(x, k))


@case("repeat", ops=["BroadcastTo"], smooth=True)
@st.composite
def _repeat(draw):
    shape = draw(shapes(max_dims=3))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    assume(any(s > 1 for s in sizes))
    x = draw(arrays(shape))
    note(f"repeat({shape}, {sizes})")
    return Example((x,), simple(lambda x: x.repeat(*sizes)), lambda x: np.tile(x, sizes))


@case("masked_fill", ops=["Where"], smooth=True)
@st.composite
def _masked_fill(draw):
    shape_x, shape_m = draw(broadcastable_shapes(2))
    assume(np.broadcast_shapes(shape_x, shape_m) == shape_x)
    mask = draw(hnp.arrays(np.bool_, shape_m, elements=st.booleans()))
    value = draw(values())
    x = draw(arrays(shape_x))
    return Example((x,), lambda d: lambda x: x.masked_fill(on(d, mask), value),
                   lambda x: np.where(mask, value, x))


@case("clamp_tensor_bounds", ops=["Maximum", "Minimum"])
@st.composite
def _clamp_tensor_bounds(draw):
    shape_x, shape_lo, shape_hi = draw(broadcastable_shapes(3))
    x, low = draw(arrays(shape_x)), draw(arrays(shape_lo, -2.0, 0.0))
    high = draw(arrays(shape_hi, 0.0, 2.0))
    assume(separated(x, low) and separated(x, high) and separated(low, high))
    return Example((x, low, high), simple(lambda x, lo, hi: x.clamp(lo, hi)),
                   lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi))


@case("layer_norm", ops=["Sqrt", "Sum"], smooth=True)
@st.composite
def _layer_norm(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    k = draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    x, w, b = draw(arrays(shape)), draw(arrays(normalized)), draw(arrays(normalized))
    axes = tuple(range(len(shape) - k, len(shape)))

    def reference(x, w, b):
        centered = x - x.mean(axis=axes, keepdims=True)
        return centered / np.sqrt((centered ** 2).mean(axis=axes, keepdims=True) + 1e-5) * w + b
    return Example((x, w, b), simple(lambda x, w, b: F.layer_norm(x, normalized, w, b)),
                   reference)


def _np_reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


@case("l1_loss", ops=["Abs"])
@st.composite
def _l1_loss(draw):
    shape = draw(shapes(empty=False))
    p, t = draw(arrays(shape)), draw(arrays(shape))
    assume(separated(p, t))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Example((p, t), simple(lambda p, t: F.l1_loss(p, t, reduction=reduction)),
                   lambda p, t: _np_reduce(np.abs(p - t), reduction))


@case("smooth_l1_loss", ops=["Where"], smooth=True)
@st.composite
def _smooth_l1_loss(draw):
    shape = draw(shapes(empty=False))
    beta = draw(st.sampled_from([0.5, 1.0, 2.0]))
    p, t = draw(arrays(shape)), draw(arrays(shape))
    d = np.abs(p - t)
    assume(np.abs(d - beta).min() > 1e-3)           # the seam of the two pieces
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Example((p, t), simple(lambda p, t: F.smooth_l1_loss(p, t, reduction, beta)),
                   lambda p, t: _np_reduce(np.where(np.abs(p - t) < beta, 0.5 * (p - t) ** 2 /
                                                    beta, np.abs(p - t) - 0.5 * beta),
                                           reduction))


@case("normalize_cosine", ops=["Norm"], smooth=True)
@st.composite
def _normalize_cosine(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    a, b = draw(arrays(shape)), draw(arrays(shape))
    assume(min(np.linalg.norm(a, axis=dim).min(), np.linalg.norm(b, axis=dim).min()) > 0.05)

    def unit(v):
        return v / np.linalg.norm(v, axis=dim, keepdims=True)
    if draw(st.booleans()):
        return Example((a,), simple(lambda x: F.normalize(x, dim=dim)), unit)
    return Example((a, b), simple(lambda x, y: F.cosine_similarity(x, y, dim=dim)),
                   lambda x, y: np.sum(unit(x) * unit(y), axis=dim))


@case("nll_loss", ops=["NllLoss"], smooth=True)
@st.composite
def _nll_loss(draw):
    n, c = draw(NONEMPTY_SIDES), draw(NONEMPTY_SIDES.map(lambda v: v + 1))
    target = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    weight = draw(st.none() | arrays((c,), 0.5, 2.0))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    x = draw(arrays((n, c)))

    def reference(x):
        w = np.ones(c) if weight is None else weight
        losses = -x[np.arange(n), target] * w[target]
        return losses.sum() / w[target].sum() if reduction == "mean" else _np_reduce(losses,
                                                                                      reduction)
    return Example((x,), lambda d: lambda x: F.nll_loss(
        x, on(d, target), None if weight is None else on(d, weight), reduction=reduction),
        reference)


def _np_log_softmax(x, axis):
    return x - _np_logsumexp(x, axis=axis, keepdims=True)


@case("cross_entropy_weight_smoothing_probabilities", ops=["LogSoftmax"], smooth=True)
@st.composite
def _cross_entropy_extended(draw):
    """torch's formulas: class targets give (1 - eps) nll + eps / C * sum_c(-w_c log p_c), the
    mean over the kept targets' weight; probability targets -sum_c w_c q_c log p_c with
    q = (1 - eps) q + eps / C, the mean over the rows."""
    n, c = draw(NONEMPTY_SIDES), draw(NONEMPTY_SIDES.map(lambda v: v + 1))
    probabilities = draw(st.booleans())
    # class targets without smoothing are the fused entry's ("cross_entropy" above)
    eps = draw(st.sampled_from([0.0, 0.1, 0.5] if probabilities else [0.1, 0.5]))
    weight = draw(st.none() | arrays((c,), 0.5, 2.0))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    x = draw(arrays((n, c), -3.0, 3.0))
    w = np.ones(c) if weight is None else weight
    if probabilities:
        q = _np_softmax(draw(arrays((n, c))), 1)
        note(f"probabilities, eps={eps}, weight={weight}, {reduction}")

        def reference(x):
            smoothed = q * (1 - eps) + eps / c
            return _np_reduce(-(_np_log_softmax(x, 1) * smoothed * w).sum(axis=1), reduction)
        target = lambda d: on(d, q)                                    # noqa: E731
    else:
        labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1) | st.just(-100)))
        assume(reduction != "mean" or (labels != -100).any())
        note(f"labels {labels!r}, eps={eps}, weight={weight}, {reduction}")

        def reference(x):
            keep = labels != -100
            safe = np.where(keep, labels, 0)
            lp = _np_log_softmax(x, 1)
            kept = w[safe] * keep
            nll = -lp[np.arange(n), safe] * kept
            smooth = -(lp * w).sum(axis=1) * keep
            if reduction == "mean":
                return (1 - eps) * nll.sum() / kept.sum() + eps / c * smooth.sum() / kept.sum()
            return _np_reduce((1 - eps) * nll + eps / c * smooth, reduction)
        target = lambda d: on(d, labels)                               # noqa: E731
    return Example((x,), lambda d: lambda x: F.cross_entropy(
        x, target(d), None if weight is None else on(d, weight), reduction=reduction,
        label_smoothing=eps), reference)


# =============================================================== the properties

def _tensors(example: Example, device) -> list:
    return [tg.Tensor(a, dtype="float64", device=device, requires_grad=True)
            for a in example.inputs]


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _recorded_ops(outputs) -> set:
    return {type(t._node).__name__ for t in tg.graph_tensors(list(outputs))
            if t._node is not None}


ALL = sorted(CASES)
SMOOTH = sorted(name for name, c in CASES.items() if c.smooth)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=100, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_forward_and_vjp(device, name, data):
    """Forward equals NumPy; the case's ops are on the tape; backward equals central differences."""
    case_ = CASES[name]
    example = data.draw(case_.examples, label=name)
    inputs = _tensors(example, device)
    f = example.build(device)
    outputs = _as_tuple(f(*inputs))
    expected = _as_tuple(example.reference(*example.inputs))
    assert len(outputs) == len(expected), f"{name}: {len(outputs)} outputs, expected {len(expected)}"
    for got, want in zip(outputs, expected):
        want = np.asarray(want)
        assert got.shape == want.shape, f"{name}: shape {got.shape}, NumPy gives {want.shape}"
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype}, NumPy gives {want.dtype}"
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12, err_msg=name)
    missing = set(case_.ops) - _recorded_ops(outputs)
    assert not missing, f"{name}: expected {sorted(missing)} on the tape"
    assert tg.gradcheck(f, inputs, **example.tolerance)


@pytest.mark.parametrize("name", SMOOTH)
@settings(max_examples=40, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_second_order(device, name, data):
    """The VJP recorded for differentiation (create_graph=True) gives the gradients the plain
    one gives, and its own VJP equals central differences of it."""
    example = data.draw(CASES[name].examples, label=name)
    inputs = _tensors(example, device)
    outputs = [o for o in _as_tuple(example.build(device)(*inputs)) if o.requires_grad]
    rng = np.random.default_rng(0)
    seeds = [on(device, rng.standard_normal(o.shape)) for o in outputs]
    if outputs:
        plain = tg.grad(outputs, inputs, grad_outputs=seeds, allow_unused=True, retain_graph=True)
        recorded = tg.grad(outputs, inputs, grad_outputs=seeds, allow_unused=True,
                           create_graph=True)
        for i, (p, r) in enumerate(zip(plain, recorded)):
            assert (p is None) == (r is None), f"{name}: input {i} gets a gradient only one way"
            if p is not None:
                np.testing.assert_allclose(r.detach().numpy(), p.numpy(), rtol=1e-12,
                                           atol=1e-14, err_msg=f"{name}: input {i}")
    assert tg.gradgradcheck(example.build(device), _tensors(example, device),
                            **example.tolerance)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=20, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_ops_do_not_mutate(device, name, data):
    """Forward and backward leave the inputs, the output and the incoming gradient as they were."""
    example = data.draw(CASES[name].examples, label=name)
    before = [a.copy() for a in example.inputs]
    inputs = _tensors(example, device)
    outputs = _as_tuple(example.build(device)(*inputs))
    outputs_before = [o.detach().numpy().copy() for o in outputs]
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape).astype(o.dtype) for o in outputs]
    seeds_before = [s.copy() for s in seeds]
    live = [(o, on(device, s)) for o, s in zip(outputs, seeds) if o.requires_grad]
    if live:
        tg.grad([o for o, _ in live], inputs, grad_outputs=[s for _, s in live],
                allow_unused=True)
    for i, (array, tensor, saved) in enumerate(zip(example.inputs, inputs, before)):
        np.testing.assert_array_equal(array, saved, err_msg=f"{name}: input array {i} changed")
        np.testing.assert_array_equal(tensor.detach().numpy(), saved,
                                      err_msg=f"{name}: input tensor {i} changed")
    for i, (o, saved) in enumerate(zip(outputs, outputs_before)):
        np.testing.assert_array_equal(o.detach().numpy(), saved, err_msg=f"{name}: output {i} changed")
    for i, ((_, s), saved) in enumerate(zip(live, seeds_before)):
        np.testing.assert_array_equal(s.detach().numpy(), saved,
                                      err_msg=f"{name}: incoming gradient {i} changed")


def _primitive_ops() -> set:
    import tinygrad_rnn.ops as ops
    for module in pkgutil.iter_modules(ops.__path__):
        importlib.import_module(f"{ops.__name__}.{module.name}")
    found, stack = set(), list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(ops.__name__ + "."):
            found.add(cls.__name__)
    return found


def test_every_primitive_op_has_a_case(device):
    covered = {op for c in CASES.values() for op in c.ops}
    missing = _primitive_ops() - covered
    assert not missing, f"primitive ops with no gradient case: {sorted(missing)}"
    assert {"Pow", "Clamp", "Where", "IndexAdd", "Cast", "Max", "Min", "SetItem", "Gather",
            "ScatterAdd", "Prod", "Norm", "Cumsum", "Flip", "Roll", "Erf"} <= covered


class _WrongTanh(Function):
    """tanh with a wrong VJP (the sign of y^2 flipped)."""
    name = "wrong_tanh"

    def forward(self, x):
        return xp_of(x).tanh(x)

    def backward(self, gy, y):
        return (gy * (1 + y * y),)


class _FlatTanh(_WrongTanh):
    """tanh whose VJP is right to first order but treats 1 - y^2 as a constant, so its
    second derivative is wrong."""
    name = "flat_tanh"

    def backward(self, gy, y):
        return (gy * tg.Tensor._make(1 - y.data * y.data),)


def test_the_checks_reject_wrong_vjps(device):
    """The properties above can fail: a wrong VJP fails gradcheck, and a VJP that is right only
    to first order passes gradcheck but fails gradgradcheck."""
    x = tg.Tensor(np.linspace(-1.5, 1.5, 5), dtype="float64", device=device, requires_grad=True)
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda x: _WrongTanh().apply(x), x)
    assert tg.gradcheck(lambda x: _FlatTanh().apply(x), x)
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(lambda x: _FlatTanh().apply(x), x)
