"""The negative log-likelihood of picked classes, one tape entry: cross_entropy's last step
after log_softmax (PyTorch's graph has the same two entries, LogSoftmax and NllLoss).

Rows i of x (N, C) pick class t_i with weight c_i (the class weight of t_i, or 1; 0 for a
row whose target is ignored). The checks on targets and weights are functional.py's."""
from __future__ import annotations

from ..function import Function
from ..accumulate import PickGrad, lazy_sums as on_arrays
from . import constant, xp_of


class NllLoss(Function):
    """loss_i = -c_i x[i, t_i];  mean: sum_i loss_i / sum_i c_i,  sum: sum_i loss_i,
    none: the loss_i themselves.
    gx[i, c] = -c_i gy (/ sum_i c_i for mean) where c = t_i, else 0  (gy_i for none); with
    every row ignored the mean is NaN and gx is 0 (torch's rule)."""
    __slots__ = ("rows", "targets", "row_weights", "reduction", "total")
    name, formula, saves_inputs = "nll_loss", "gx[i, t_i] = -c_i * gy / sum(c), 0 elsewhere", False

    def __init__(self, targets, row_weights, reduction: str):
        self.rows = xp_of(targets).arange(targets.shape[0])
        self.targets, self.row_weights, self.reduction = targets, row_weights, reduction
        # the mean divides by the kept rows' total weight; 0/0 when all are ignored (NaN, torch)
        self.total = float(row_weights.sum()) if reduction == "mean" else 1.0

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def forward(self, x):
        picked = x[self.rows, self.targets]
        picked *= self.row_weights     # the fancy index made a copy: safe to scale in place
        return self._reduce(-picked)

    def _reduce(self, losses):
        """The weighted losses, reduced: kept, summed, or summed over the total weight."""
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / self.total if self.total else total * float("nan")

    def _picked(self, like, scale):
        """-c_i * scale, the Jacobian's one non-zero per row (at [i, t_i]), in x's dtype."""
        # every row ignored (total 0): the loss is NaN but the gradient 0, as torch's (a fully
        # padded batch must not poison the weights)
        values = self.row_weights * (-scale / self.total if self.total else 0.0)
        return values.astype(like.dtype, copy=False)

    def backward(self, gy, y):
        x = self.edges[0]
        if on_arrays():   # lazy: log_softmax's VJP adds the picked entries without the zeros
            return (PickGrad(self.targets, x.shape, self._picked(x.data, gy.data)),)
        # create_graph or forward-over-reverse: gx is linear in gy, the pattern a constant
        ones = xp_of(x.data).ones(self.rows.shape, dtype=x.dtype)
        pattern = PickGrad(self.targets, x.shape, self._picked(x.data, ones)).dense()
        return (constant(pattern) * (gy.unsqueeze(-1) if self.reduction == "none" else gy),)

    def jvp(self, tangents, y):
        """ty = -sum_i c_i tx[i, t_i] (reduced as y)."""
        picked = tangents[0][self.rows, self.targets] * constant(-self.row_weights)
        if self.reduction == "none":
            return picked
        return picked.sum() * (1 / self.total if self.total else float("nan"))
