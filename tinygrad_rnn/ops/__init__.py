"""Primitive ops. Each is a Function subclass with its forward and its VJP side by side.

Helpers shared by the ops live here: ``xp_of`` (the array module owning an
array), ``constant`` (a Tensor that carries no gradient, e.g. a mask) and
``unbroadcast`` (sum a gradient back to the shape of the input it belongs to).
"""
from __future__ import annotations

from ..backends import backend_for
from ..tensor import Tensor


def xp_of(array):
    """numpy or cupy: the module that owns ``array``."""
    return backend_for(array).xp


def constant(array) -> Tensor:
    """A Tensor that never requires grad (masks, signs, indices)."""
    return Tensor._make(array)


def unbroadcast(grad: Tensor, like) -> Tensor:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched, giving ``like``'s shape.

    If y = f(broadcast(x)), then dL/dx sums dL/dy over every broadcast copy of x.
    """
    shape, grad_shape = like.data.shape, grad.data.shape   # not .shape: a property is a call
    if grad_shape == shape:
        return grad
    leading = len(grad_shape) - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad_shape[leading + i] != 1)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape) if summed.shape != shape else summed


# Forward mode: a missing tangent (None) stands for zero, so a JVP skips its terms.

def tangent_sum(*terms):
    """The sum of the tangent terms that exist; None if none does."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


def times(tangent, factor):
    """``tangent * factor``, or None for a missing tangent."""
    return None if tangent is None else tangent * factor


def zeros_for(tangent, like):
    """``tangent``, or zeros shaped like ``like`` where it is missing (ops that must place
    every input's tangent: concat, stack, scatter_add)."""
    if tangent is not None:
        return tangent
    return constant(xp_of(like.data).zeros(like.shape, dtype=like.dtype))
