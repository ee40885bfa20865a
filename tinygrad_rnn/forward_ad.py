"""Forward-mode automatic differentiation with dual numbers, as ``torch.autograd.forward_ad``.

    with tg.forward_ad.dual_level():
        x = tg.forward_ad.make_dual(p, v)      # the point p, moving in direction v
        y = f(x)
        jv = tg.forward_ad.unpack_dual(y).tangent   # J_f(p) v, in one forward pass

Every op pushes tangents as it runs: y = op(x1, ..., xk) gets the tangent
``op.jvp((t1, ..., tk), y)`` = sum_i (dy/dx_i) t_i, next to its value. No tape is
needed and nothing is kept for later: one pass gives one Jacobian column
combination J v, where reverse mode gives one row combination u^T J.

Tangents are plain tensors, computed with tensor ops: if grad mode records them, reverse
mode differentiates through them; and a backward pass (its VJPs are tensor ops too) run
inside a level carries tangents, which is forward-over-reverse (``tg.func.hvp``).
One level at a time, as torch (nested levels raise).
"""
from __future__ import annotations

import weakref
from typing import NamedTuple

from .function import Function
from .state import STATE
from .tensor import Tensor


class _Level:
    """An open dual level: it remembers which tensors got tangents, to drop them at exit."""

    def __init__(self):
        self.duals: list = []
        self.observers: list = []      # callables(function, y, tangent): tg.tape's tangent program

    def attach(self, tensor: Tensor, tangent: Tensor, function: Function | None = None) -> None:
        tensor._tangent = tangent
        self.duals.append(weakref.ref(tensor))
        for observe in self.observers:
            observe(function, tensor, tangent)


class dual_level:
    """``with dual_level():`` opens the level in which tangents exist; leaving it drops every
    tangent made inside (the dual tensors become plain tensors again)."""

    def __enter__(self) -> int:
        if STATE.forward_ad is not None:
            raise RuntimeError("dual_level: a dual level is already open; nested forward-mode "
                               "levels are not supported (as in torch)")
        STATE.forward_ad = _Level()
        return 0

    def __exit__(self, *exc) -> bool:
        level, STATE.forward_ad = STATE.forward_ad, None
        for ref in level.duals:
            tensor = ref()
            if tensor is not None:
                tensor._tangent = None
        return False


def enter_dual_level() -> int:
    """The function form of ``with dual_level():`` (torch has both)."""
    return dual_level().__enter__()


def exit_dual_level(*, level: int | None = None) -> None:
    dual_level().__exit__(None, None, None)


class _Alias(Function):
    """y = x, the same memory: the dual tensor make_dual returns. gx = gy; ty = tx."""
    name, formula, saves_inputs, may_view = "alias", "gx = gy", False, True

    def forward(self, x):
        return x

    def backward(self, gy, y):
        return (gy,)

    def jvp(self, tangents, y):
        return tangents[0]


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A tensor with ``tensor``'s values (and its autograd history: gradients flow back to
    ``tensor``) and the tangent ``tangent`` (same shape, floating point)."""
    current = STATE.forward_ad
    if current is None:
        raise RuntimeError("make_dual: open a level first: with tg.forward_ad.dual_level(): ...")
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual: expected two Tensors, got {type(tensor).__name__} and "
                        f"{type(tangent).__name__}")
    if tensor.shape != tangent.shape:
        raise ValueError(f"make_dual: the tangent has shape {tuple(tangent.shape)} but the "
                         f"tensor has shape {tuple(tensor.shape)}; they must match")
    if tensor.dtype.kind not in "fc" or tangent.dtype.kind not in "fc":
        raise TypeError(f"make_dual: only floating-point tensors have tangents, got "
                        f"{tensor.dtype} and {tangent.dtype}")
    STATE.forward_ad = None
    try:
        dual = _Alias().apply(tensor)
    finally:
        STATE.forward_ad = current
    if tangent.dtype != tensor.dtype:
        tangent = tangent.to(str(tensor.dtype))
    current.attach(dual, tangent)
    return dual


class UnpackedDualTensor(NamedTuple):
    primal: Tensor
    tangent: Tensor | None


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``: the values (a view without the tangent) and the tangent, or None
    when ``tensor`` has none (it does not depend on any dual input)."""
    tangent = tensor._tangent
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    current, STATE.forward_ad = STATE.forward_ad, None
    try:
        primal = _Alias().apply(tensor)
    finally:
        STATE.forward_ad = current
    return UnpackedDualTensor(primal, tangent)


__all__ = ["dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor",
           "enter_dual_level", "exit_dual_level"]
