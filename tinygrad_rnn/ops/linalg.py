"""Matrix product, batched and broadcasting as NumPy's matmul (1-D operands included)."""
from __future__ import annotations

import math

from ..accumulate import lazy_sums, product_grad
from ..errors import OpError
from ..function import Function, needs_grad
from . import tangent_sum, unbroadcast


class MatMul(Function):
    """Y = A @ B.   gA = gY @ B^T,  gB = A^T @ gY  (over the last two axes, summed over
    broadcast batch axes). A 1-D A is a row vector, a 1-D B a column vector, as NumPy. In a
    first-order backward a matrix B's gB stays lazy (``ProductGrad``) when A has few rows, so
    that the gradients of a B used in many products (W_hh at every time step) sum as one
    matmul (accumulate.py)."""
    name, formula = "matmul", "gA = gY @ B^T, gB = A^T @ gY"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(f"both operands need at least one dimension, got shapes "
                          f"{tuple(a.shape)} and {tuple(b.shape)}")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise OpError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                          f"({inner_a} != {inner_b})")
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and a.size:
            # rows of a stack times one matrix: one GEMM, not one per batch (same result)
            return (a.reshape(-1, inner_a) @ b).reshape(a.shape[:-1] + (b.shape[1],))
        return a @ b

    def backward(self, gy, y):
        a, b = self.edges
        a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
        b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
        g2 = gy
        if b.ndim == 1:      # first: for vector @ vector, gy is 0-d and -2 is not yet an axis
            g2 = g2.unsqueeze(-1)
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        grad_a = grad_b = None
        if needs_grad(a):
            grad_a = unbroadcast(g2 @ b2.mT, a2).reshape(a.shape)
        if needs_grad(b):
            if a.ndim == 2 and b.ndim == 2 and lazy_sums():
                grad_b = product_grad(a.data, gy.data)
            elif b2.ndim == 2 and a2.ndim > 2:
                # a batch of rows times one matrix (Linear on a sequence): one
                # (K, rows) @ (rows, N) product, not a stack of per-batch ones summed after
                rows = math.prod(a2.shape[:-1])
                grad_b = (a2.reshape(rows, a2.shape[-1]).mT @ g2.reshape(rows, g2.shape[-1])
                          ).reshape(b.shape)
            else:
                grad_b = unbroadcast(a2.mT @ g2, b2).reshape(b.shape)
        return grad_a, grad_b

    def jvp(self, tangents, y):
        """tY = tA @ B + A @ tB."""
        (a, b), (ta, tb) = self.edges, tangents
        return tangent_sum(None if ta is None else MatMul().apply(ta, b),
                           None if tb is None else MatMul().apply(a, tb))
