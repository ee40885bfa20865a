"""softmax and log_softmax along an axis, each one tape entry with a stable forward."""
from __future__ import annotations

from ..accumulate import PickGrad, finish, lazy_sums as on_arrays
from ..function import Function
from ..state import STATE
from . import constant, xp_of


class Softmax(Function):
    """y_i = e^{x_i - m} / sum_j e^{x_j - m}  (m = max_j x_j, for stability).
    gx = y * (gy - sum_j gy_j y_j)."""
    __slots__ = ("axis",)
    name, formula, saves_inputs, uses_output = "softmax", "gx = y * (gy - sum(gy * y))", False, True

    def __init__(self, axis: int = -1):
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, x):
        e = xp_of(x).exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy, y):
        if not on_arrays():   # create_graph, or tangents riding on gy (forward over reverse)
            return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)
        g, probs = gy.data, y.data    # attention's widest arrays: one buffer, reused
        grad = g * probs
        total = grad.sum(axis=self.axis, keepdims=True)
        xp_of(g).subtract(g, total, out=grad)
        grad *= probs
        return (constant(grad),)

    def jvp(self, tangents, y):
        """ty = y * (tx - sum_j tx_j y_j)  (the Jacobian diag(y) - y y^T is symmetric)."""
        t = tangents[0]
        return y * (t - (t * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - m - log sum_j e^{x_j - m}.   gx = gy - e^y * sum_j gy_j.
    After nll_loss, gy is zero but for w_i at [i, t_i] (a lazy PickGrad), so
    gx = -e^y w_i, plus w_i at [i, t_i]: no zeros are made."""
    __slots__ = ("axis", "exps", "sums")
    name, formula, saves_inputs, uses_output = "log_softmax", "gx = gy - exp(y) * sum(gy)", False, True
    takes_lazy_grad = True

    def __init__(self, axis: int = -1):
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, x):
        xp = xp_of(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        # e^{x - m} and its sums, kept: exp(y) = exps / sums, no second exp in the backward
        self.exps = xp.exp(shifted)
        self.sums = self.exps.sum(axis=self.axis, keepdims=True)
        shifted -= xp.log(self.sums)
        return shifted

    def backward(self, gy, y):
        if isinstance(gy, PickGrad) and y.ndim == 2 and self.axis in (1, -1):
            return (constant(self._picked_grad(gy)),)
        gy = finish(gy)        # another lazy sum: as one array
        if not on_arrays():
            return (gy - y.exp() * gy.sum(axis=self.axis, keepdims=True),)
        g = gy.data
        grad = self._probs_times(g.sum(axis=self.axis, keepdims=True))
        xp_of(g).subtract(g, grad, out=grad)
        return (constant(grad),)

    def _probs_times(self, row_factor):
        """e^y * row_factor, written over the kept e^{x-m} (and let go of) when this backward
        frees the graph (nothing reads them again), else into a new array."""
        scale = row_factor / self.sums
        if STATE.overwrite_saved:                 # written over and let go: it is gx now
            exps, self.exps = self.exps, None
            exps *= scale
            return exps
        return self.exps * scale

    def _picked_grad(self, gy: PickGrad):
        w = gy.values
        grad = self._probs_times(-w[:, None])
        grad[gy.rows(), gy.cols] += w
        return grad

    def release(self) -> None:
        super().release()
        self.exps = self.sums = None

    def jvp(self, tangents, y):
        """ty = tx - sum_j e^{y_j} tx_j."""
        t = tangents[0]
        return t - (y.exp() * t).sum(axis=self.axis, keepdims=True)
