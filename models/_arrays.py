"""Shared by the cells' array code (the pointwise math the fused sweeps run, in models/*_cell.py):
which array module holds an array, the backend's own kernel for a step if it has one, and an
in-place sigmoid."""
from __future__ import annotations

from tinygrad_rnn.backends import backend_for


def kernel_or_xp(name: str, array):
    """(the backend's kernel registered as ``name`` or None, the array module of ``array``):
    CuPy runs a step's pointwise part as one ElementwiseKernel; elsewhere the ``xp`` code runs."""
    backend = backend_for(array)
    return backend.kernel(name), backend.xp


def xp_of(array):
    """numpy or cupy: the module that owns ``array`` (for steps with no kernel of their own)."""
    return backend_for(array).xp


def sigmoid_(xp, x) -> None:
    """x <- sigma(x) in place, as 0.5 tanh(x/2) + 0.5 (never overflows; the core's Sigmoid too)."""
    x *= 0.5
    xp.tanh(x, out=x)
    x *= 0.5
    x += 0.5
