"""Primitive ops. Each is a Function subclass with its forward and its VJP side by side.

Helpers shared by the ops live here: ``xp_of`` (the array module owning an
array), ``constant`` (a Tensor that carries no gradient, e.g. a mask),
``unbroadcast`` (sum a gradient back to the shape of the input it belongs to), and
``column_sums`` / ``row_sums`` (the sums over one axis of a 2-D array, on arrays).
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


def column_sums(array):
    """``array.sum(axis=0)`` of a 2-D array (a bias's gradient: one sum per column), computed as
    ones @ array: BLAS's matrix-vector product reads the array once, row after row, where
    NumPy's reduction over the rows is 2-5x slower: (1024, 65) 6 us against 29, (1024, 128)
    14 against 39 (OpenBLAS, one thread). Other dtypes (no BLAS product) sum as NumPy does."""
    if array.dtype.kind != "f" or array.dtype.itemsize < 4:
        return array.sum(axis=0)
    return xp_of(array).ones(array.shape[0], dtype=array.dtype) @ array


def row_sums(array):
    """``array.sum(axis=1)`` of a 2-D array as array @ ones, for the same reason: NumPy runs
    one short reduction per row, 4-6x slower at (1024, 65) (40 us against 9)."""
    if array.dtype.kind != "f" or array.dtype.itemsize < 4:
        return array.sum(axis=1)
    return array @ xp_of(array).ones(array.shape[1], dtype=array.dtype)


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
