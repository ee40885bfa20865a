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
        return a + b

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy, a) if needs_grad(a) else None,
                unbroadcast(gy, b) if needs_grad(b) else None)


class Sub(Function):
    """y = a - b.   ga = gy,  gb = -gy."""
    name, formula, saves_inputs = "sub", "ga = gy, gb = -gy", False

    def forward(self, a, b):
        return a - b

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy, a) if needs_grad(a) else None,
                unbroadcast(-gy, b) if needs_grad(b) else None)


class Mul(Function):
    """y = a * b.   ga = gy * b,  gb = gy * a."""
    name, formula = "mul", "ga = gy * b, gb = gy * a"

    def forward(self, a, b):
        return a * b

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy * b, a) if needs_grad(a) else None,
                unbroadcast(gy * a, b) if needs_grad(b) else None)


class Div(Function):
    """y = a / b.   ga = gy / b,  gb = -gy * a / b^2."""
    name, formula = "div", "ga = gy / b, gb = -gy * a / b^2"

    def forward(self, a, b):
        return a / b

    def backward(self, gy, y):
        a, b = self.inputs
        return (unbroadcast(gy / b, a) if needs_grad(a) else None,
                unbroadcast(-gy * a / (b * b), b) if needs_grad(b) else None)


class Pow(Function):
    """y = a ** b.   ga = gy * b * a^(b-1),  gb = gy * y * log(a)  (a > 0)."""
    name, formula, uses_output = "pow", "ga = gy * b * a^(b-1), gb = gy * y * log(a)", True

    def forward(self, a, b):
        return a ** b

    def backward(self, gy, y):
        a, b = self.inputs
        grad_a = grad_b = None
        if needs_grad(a):
            grad_a = unbroadcast(gy * b * a ** (b - 1), a) if not _is_zero(b) else a * 0
        if needs_grad(b):
            grad_b = unbroadcast(gy * y * _log(a), b)
        return grad_a, grad_b


def _is_zero(value) -> bool:
    return type(value) in (int, float) and value == 0


def _log(value):
    """ln of a Tensor (differentiable) or of a Python number."""
    return value.log() if hasattr(value, "data") else math.log(value)


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
        return xp_of(x).exp(x)

    def backward(self, gy, y):
        return (gy * y,)


class Log(Function):
    """y = ln x.   gx = gy / x."""
    name, formula = "log", "gx = gy / x"

    def forward(self, x):
        return xp_of(x).log(x)

    def backward(self, gy, y):
        return (gy / self.inputs[0],)


class Sqrt(Function):
    """y = sqrt(x).   gx = gy / (2 y)."""
    name, formula, saves_inputs, uses_output = "sqrt", "gx = gy / (2 y)", False, True

    def forward(self, x):
        return xp_of(x).sqrt(x)

    def backward(self, gy, y):
        return (gy / (y * 2),)


class Tanh(Function):
    """y = tanh(x).   gx = gy * (1 - y^2)."""
    name, formula, saves_inputs, uses_output = "tanh", "gx = gy * (1 - y^2)", False, True

    def forward(self, x):
        return xp_of(x).tanh(x)

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
        return xp_of(x).sin(x)

    def backward(self, gy, y):
        return (gy * self.inputs[0].cos(),)


class Cos(Function):
    """y = cos x.   gx = -gy * sin x."""
    name, formula = "cos", "gx = -gy * sin(x)"

    def forward(self, x):
        return xp_of(x).cos(x)

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
