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
    shape = like.shape
    if grad.shape == shape:
        return grad
    leading = grad.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad.shape[leading + i] != 1)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape) if summed.shape != shape else summed
