"""The affine map of nn.Linear as one tape entry (PyTorch's addmm): y = x W^T + b."""
from __future__ import annotations

import math

from ..accumulate import lazy_sums, product_grad
from ..errors import OpError
from ..function import Function, needs_grad
from . import column_sums, constant, tangent_sum


def _rows(a):
    """(..., n) -> (rows, n), the rows counted (reshape(-1, 0) cannot infer them)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


class Linear(Function):
    """y = x W^T + b, x (..., in), W (out, in), b (out,) or none; every row of x alike.
    gx = gy W,  gW = sum over rows gy^T x,  gb = sum over rows gy.
    One entry, not three (transpose, matmul, add): the bias is added in place into the
    product, and gW is one (out, rows) @ (rows, in) product, lazy in a first-order backward
    when there are few rows, so that a W used by many calls sums its gradient in one matmul
    (accumulate.py)."""
    name, formula = "linear", "gx = gy @ W, gW = gy^T @ x, gb = sum(gy)"
    reads_inputs = (0, 1)      # the VJP reads x and W, never b: editing b in place is fine

    def forward(self, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise OpError(f"input of shape {tuple(x.shape)} and weight of shape "
                          f"{tuple(weight.shape)}: the weight must be (out_features, "
                          f"in_features) with in_features = the input's last dimension")
        if bias is not None and tuple(bias.shape) != (weight.shape[0],):
            raise OpError(f"bias of shape {tuple(bias.shape)} for a weight of shape "
                          f"{tuple(weight.shape)}: it must be ({weight.shape[0]},)")
        y = _rows(x) @ weight.T
        if bias is not None:
            if y.dtype == bias.dtype:
                y += bias          # y is this op's own new array
            else:
                y = y + bias       # mixed dtypes: NumPy's promotion, as x @ W.T + b
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, gy, y):
        x, weight = self.edges[:2]
        bias = self.edges[2] if len(self.edges) > 2 else None
        if lazy_sums():
            rows_g = _rows(gy.data)
            # gx last: when the entry that made x is the next one backward visits (a
            # recurrent layer under its read-out), gx is still in cache for it
            gw = product_grad(rows_g, _rows(x.data)) if needs_grad(weight) else None
            gb = constant(column_sums(rows_g)) if needs_grad(bias) else None
            gx = constant((rows_g @ weight.data).reshape(x.shape)) if needs_grad(x) else None
        else:    # create_graph, or tangents riding on gy: the same in differentiable ops
            rows_x, rows_g = _rows(x), _rows(gy)
            gx = (rows_g @ weight).reshape(x.shape) if needs_grad(x) else None
            gw = rows_g.mT @ rows_x if needs_grad(weight) else None
            gb = rows_g.sum(axis=0) if needs_grad(bias) else None
        return (gx, gw) if bias is None else (gx, gw, gb)

    def jvp(self, tangents, y):
        """ty = tx W^T + x tW^T + tb."""
        x, weight = self.edges[:2]
        tx, tw = tangents[:2]
        tb = tangents[2] if len(tangents) > 2 else None
        return tangent_sum(None if tx is None else Linear().apply(tx, weight),
                           None if tw is None else Linear().apply(x, tw), tb)
