"""Cross-entropy of (N, C) logits and class indices as one tape entry: log_softmax and
nll_loss fused, so the step keeps one (N, C) array (e^{x-m}, which becomes the gradient), not
three (log-probabilities, e^{x-m}, the gradient), as a hand-written NumPy loss does."""
from __future__ import annotations

from ..accumulate import PickGrad, lazy_sums as on_arrays
from ..function import _modified
from ..state import STATE
from ..tape import entry_label
from . import constant, row_sums, xp_of
from .nll import NllLoss


class CrossEntropy(NllLoss):
    """loss_i = c_i (log sum_j e^{x_ij} - x_{i,t_i}) = -c_i log softmax(x)_{i,t_i}, reduced as
    nll_loss (c_i: the class weight of t_i, or 1; 0 where the target is ignored).
    gx = (softmax(x) - onehot(t)) * c_i * gy / sum_i c_i  (mean; no division for sum, gy_i
    for none). Kept for it: e^{x-m} and its row sums s_i (m: the row's max), so that the
    softmax's division and the scaling by c_i gy are one pass, e^{x-m} * (c_i gy / s_i), in
    the backward; one that frees the graph writes gx over the kept e^{x-m}."""
    __slots__ = ("exps", "sums")
    name, formula = "cross_entropy", "gx = (softmax(x) - onehot(t)) * c * gy / sum(c)"
    saves_inputs = True     # the create_graph VJP and the JVP differentiate softmax(x) itself
    reads_inputs = ()       # the first-order VJP reads the kept e^{x-m} only: x may be edited

    def forward(self, x):
        xp = xp_of(x)
        shifted = x - x.max(axis=1, keepdims=True)
        picked = shifted[self.rows, self.targets]
        self.exps = xp.exp(shifted, out=shifted)
        self.sums = sums = row_sums(shifted)
        losses = xp.log(sums)
        losses -= picked
        losses *= self.row_weights       # in place: the logits' dtype, whatever the weights'
        return self._reduce(losses)

    def backward(self, gy, y):
        x = self.edges[0]
        if on_arrays():
            picked = self._picked(self.exps, gy.data)        # -c_i gy / sum(c), per row
            scale = (-picked / self.sums)[:, None]
            if STATE.overwrite_saved:         # written over and let go: it is gx now
                grad, self.exps = self.exps, None
                grad *= scale
            else:
                grad = self.exps * scale
            grad[self.rows, self.targets] += picked
            return (constant(grad),)
        # create_graph, or tangents riding on gy: the same in differentiable ops of x
        self._check_unedited(x, y)
        per_row = self._picked(x.data, xp_of(x.data).ones(self.rows.shape, dtype=x.dtype))
        onehot = PickGrad(self.targets, x.shape, per_row).dense()     # -c_i / sum(c) at t_i
        gx = x.softmax(1) * constant(-per_row[:, None]) + constant(onehot)
        return (gx * (gy.unsqueeze(-1) if self.reduction == "none" else gy),)

    def jvp(self, tangents, y):
        """ty_i = c_i (sum_j softmax(x)_ij tx_ij - tx_{i,t_i}), reduced as y."""
        x, t = self.edges[0], tangents[0]
        self._check_unedited(x, y)
        per_row = ((x.softmax(1) * t).sum(axis=1) - t[self.rows, self.targets]) * constant(
            self.row_weights)
        if self.reduction == "none":
            return per_row
        return per_row.sum() * (1 / self.total if self.total else float("nan"))

    def _check_unedited(self, x, y) -> None:
        """The paths that read x's values refuse an x edited in place since it was recorded
        (the first-order one reads the softmax it kept, so an edit is fine there, as torch's
        LogSoftmax keeps its output)."""
        saved = self.versions[0] if self.versions is not None else 0
        if x.version != saved:
            raise _modified(self, entry_label(y, y), "input 0", saved, x.version)

    def release(self) -> None:
        super().release()
        self.exps = self.sums = None
