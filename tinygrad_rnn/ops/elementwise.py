"""Elementwise ops. Notation: y = op(a, b), gy = dL/dy; each VJP returns dL/da, dL/db.

Binary ops broadcast as NumPy; ``unbroadcast`` sums each gradient back to its
input's shape. An input that is a Python number gets no gradient.
"""
from __future__ import annotations

import math

from ..function import Function, needs_grad
from . import constant, unbroadcast, xp_of


class Add(Function):
    """y = a + b.   ga = gy,  gb = gy."""
    name, formula, saves_inputs = "add", "ga = gy, gb = gy", False

    def forward(self, a, b):
        out = a + b
        return _float_result(out, a, b) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy, a) if needs_grad(a) else None,
                unbroadcast(gy, b) if needs_grad(b) else None)


class Sub(Function):
    """y = a - b.   ga = gy,  gb = -gy."""
    name, formula, saves_inputs = "sub", "ga = gy, gb = -gy", False

    def forward(self, a, b):
        out = a - b
        return _float_result(out, a, b) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy, a) if needs_grad(a) else None,
                unbroadcast(-gy, b) if needs_grad(b) else None)


class Mul(Function):
    """y = a * b.   ga = gy * b,  gb = gy * a."""
    name, formula = "mul", "ga = gy * b, gb = gy * a"

    def forward(self, a, b):
        out = a * b
        return _float_result(out, a, b) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy * b, a) if needs_grad(a) else None,
                unbroadcast(gy * a, b) if needs_grad(b) else None)


class Div(Function):
    """y = a / b.   ga = gy / b,  gb = -gy * a / b^2."""
    name, formula = "div", "ga = gy / b, gb = -gy * a / b^2"

    def forward(self, a, b):
        out = a / b
        return _float_result(out, a, b) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy / b, a) if needs_grad(a) else None,
                unbroadcast(-gy * a / (b * b), b) if needs_grad(b) else None)


class Pow(Function):
    """y = a ** b.   ga = gy * b * a^(b-1) (0 where a = b = 0),  gb = gy * y * ln(a) (0 where
    a = 0 and b >= 0), as torch: so 0 ** 0 has ga = 0 and 0 ** 3 has gb = 0."""
    name, formula, uses_output = "pow", "ga = gy * b * a^(b-1), gb = gy * y * log(a)", True

    def forward(self, a, b):
        out = a ** b
        return _float_result(out, a, b) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        a, b = self.inputs
        grad_a = grad_b = None
        if needs_grad(a):
            if _is_number(b):
                grad_a = gy * b * a ** (b - 1) if b != 0 else a * 0
            else:       # at a = b = 0: exponent 1 in a^(b-1), times b = 0 -> 0, not 0 * inf
                zero = _mask((a.data == 0) & (b.data == 0), b)
                safe_b = Where(zero).apply(1.0, b) if zero.any() else b
                grad_a = unbroadcast(gy * b * a ** (safe_b - 1), a)
        if needs_grad(b):
            grad_b = unbroadcast(gy * y * _log_of_base(a, b), b)
        return grad_a, grad_b


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _log_of_base(a, b):
    """ln a for the exponent's gradient, 0 where a = 0 and b >= 0 (there y = 0 or 1 and torch's
    gradient is 0); a Python-number base may be 0 or negative (-inf, NaN as torch)."""
    if _is_number(a):
        if a > 0:
            return math.log(a)
        if a < 0:
            return math.nan
        return Where(_mask(b.data >= 0, b)).apply(0.0, -math.inf)
    zero_base = _mask((a.data == 0) & (_raw(b) >= 0), a)
    return Where(zero_base).apply(1.0, a).log() if zero_base.any() else a.log()


def _mask(condition, like):
    """A comparison's result as an array of like's backend (0-d comparisons give a scalar)."""
    return xp_of(like.data).asarray(condition)


def _raw(value):
    return getattr(value, "data", value)


def _float_result(out, *operands):
    """Integer-only arithmetic that NumPy turns into float64 (int / int, int * 0.5, sqrt(int))
    gives torch's default dtype, float32. The forwards call this only for a float64 result."""
    if not any(getattr(v, "dtype", None) is not None and v.dtype.kind in "fc" for v in operands):
        return out.astype("float32")
    return out


class Neg(Function):
    """y = -x.   gx = -gy."""
    name, formula, saves_inputs = "neg", "gx = -gy", False

    def forward(self, x):
        return -x

    def backward(self, gy, y):
        return (-gy,)


class Exp(Function):
    """y = e^x.   gx = gy * y."""
    name, formula, saves_inputs, uses_output = "exp", "gx = gy * y", False, True

    def forward(self, x):
        out = xp_of(x).exp(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy * y,)


class Log(Function):
    """y = ln x.   gx = gy / x."""
    name, formula = "log", "gx = gy / x"

    def forward(self, x):
        out = xp_of(x).log(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy / self.inputs[0],)


class Sqrt(Function):
    """y = sqrt(x).   gx = gy / (2 y)."""
    name, formula, saves_inputs, uses_output = "sqrt", "gx = gy / (2 y)", False, True

    def forward(self, x):
        out = xp_of(x).sqrt(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy / (y * 2),)


class Tanh(Function):
    """y = tanh(x).   gx = gy * (1 - y^2)."""
    name, formula, saves_inputs, uses_output = "tanh", "gx = gy * (1 - y^2)", False, True

    def forward(self, x):
        out = xp_of(x).tanh(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy * (1 - y * y),)


class Sigmoid(Function):
    """y = sigma(x) = 1 / (1 + e^-x).   gx = gy * y * (1 - y)."""
    name, formula, saves_inputs, uses_output = "sigmoid", "gx = gy * y * (1 - y)", False, True

    def forward(self, x):
        # the tanh form never overflows, unlike 1 / (1 + exp(-x)) for very negative x
        return xp_of(x).tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, gy, y):
        return (gy * y * (1 - y),)


class Relu(Function):
    """y = max(x, 0).   gx = gy * [x > 0]."""
    name, formula = "relu", "gx = gy * [x > 0]"

    def forward(self, x):
        return xp_of(x).maximum(x, 0)

    def backward(self, gy, y):
        return (gy * constant(self.inputs[0].data > 0),)


class Softplus(Function):
    """y = ln(1 + e^x), computed as max(x, 0) + ln(1 + e^-|x|).   gx = gy * sigma(x)."""
    name, formula = "softplus", "gx = gy * sigmoid(x)"

    def forward(self, x):
        xp = xp_of(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy, y):
        return (gy * self.inputs[0].sigmoid(),)


class Abs(Function):
    """y = |x|.   gx = gy * sign(x)."""
    name, formula = "abs", "gx = gy * sign(x)"

    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, gy, y):
        x = self.inputs[0].data
        return (gy * constant(xp_of(x).sign(x)),)


class Sin(Function):
    """y = sin x.   gx = gy * cos x."""
    name, formula = "sin", "gx = gy * cos(x)"

    def forward(self, x):
        out = xp_of(x).sin(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy * self.inputs[0].cos(),)


class Cos(Function):
    """y = cos x.   gx = -gy * sin x."""
    name, formula = "cos", "gx = -gy * sin(x)"

    def forward(self, x):
        out = xp_of(x).cos(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (-gy * self.inputs[0].sin(),)


class Maximum(Function):
    """y = max(a, b) elementwise.   ga = gy * [a > b],  gb = gy * [a < b]  (ties split evenly)."""
    name, formula = "maximum", "ga = gy * [a > b], gb = gy * [b > a]"

    def forward(self, a, b):
        return xp_of(a).maximum(a, b)

    def backward(self, gy, y):
        a, b = self.inputs
        a_wins = a.data > b.data
        share_a = constant((a_wins + 0.5 * (a.data == b.data)).astype(gy.dtype))
        return (unbroadcast(gy * share_a, a) if needs_grad(a) else None,
                unbroadcast(gy * (1 - share_a), b) if needs_grad(b) else None)


class Minimum(Function):
    """y = min(a, b) elementwise.   ga = gy * [a < b],  gb = gy * [a > b]  (ties split evenly)."""
    name, formula = "minimum", "ga = gy * [a < b], gb = gy * [b < a]"

    def forward(self, a, b):
        return xp_of(a).minimum(a, b)

    def backward(self, gy, y):
        a, b = self.inputs
        share_a = constant(((a.data < b.data) + 0.5 * (a.data == b.data)).astype(gy.dtype))
        return (unbroadcast(gy * share_a, a) if needs_grad(a) else None,
                unbroadcast(gy * (1 - share_a), b) if needs_grad(b) else None)


class Clamp(Function):
    """y = min(max(x, low), high).   gx = gy * [low <= x <= high]."""
    __slots__ = ("low", "high")
    name, formula = "clamp", "gx = gy * [low <= x <= high]"

    def __init__(self, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clamp: give at least one of min and max")
        self.low, self.high = low, high

    def extra_repr(self) -> str:
        return f"min={self.low}, max={self.high}"

    def forward(self, x):
        return xp_of(x).clip(x, self.low, self.high)

    def backward(self, gy, y):
        x = self.inputs[0].data
        inside = x == x
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return (gy * constant(inside),)


class Where(Function):
    """y = a where condition else b.   ga = gy where condition else 0;  gb = the rest."""
    __slots__ = ("condition",)
    name, formula, saves_inputs = "where", "ga = where(c, gy, 0), gb = where(c, 0, gy)", False

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return xp_of(self.condition).where(self.condition, a, b)

    def backward(self, gy, y):
        a, b = self.inputs
        zero = 0.0
        return (unbroadcast(Where(self.condition).apply(gy, zero), a) if needs_grad(a) else None,
                unbroadcast(Where(self.condition).apply(zero, gy), b) if needs_grad(b) else None)


class Log1p(Function):
    """y = ln(1 + x), accurate for small x.   gx = gy / (1 + x)."""
    name, formula = "log1p", "gx = gy / (1 + x)"

    def forward(self, x):
        out = xp_of(x).log1p(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy / (self.inputs[0] + 1),)


class Expm1(Function):
    """y = e^x - 1, accurate for small x.   gx = gy * (y + 1)."""
    name, formula, saves_inputs, uses_output = "expm1", "gx = gy * (y + 1)", False, True

    def forward(self, x):
        out = xp_of(x).expm1(x)
        return _float_result(out, x) if out.dtype.char == "d" else out

    def backward(self, gy, y):
        return (gy * (y + 1),)


class Sign(Function):
    """y = sign(x) in {-1, 0, 1}.   gx = 0 (flat everywhere it is differentiable, as torch)."""
    name, formula, saves_inputs = "sign", "gx = 0", False

    def forward(self, x):
        return xp_of(x).sign(x)

    def backward(self, gy, y):
        return (gy * 0,)


class Erf(Function):
    """y = erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt.   gx = gy * 2/sqrt(pi) e^{-x^2}."""
    name, formula = "erf", "gx = gy * 2/sqrt(pi) * exp(-x^2)"

    def forward(self, x):
        from ..backends import backend_for
        return backend_for(x).erf(x)

    def backward(self, gy, y):
        x = self.inputs[0]
        return (gy * (-(x * x)).exp() * (2 / math.sqrt(math.pi)),)
