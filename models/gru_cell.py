"""The GRU cell (Cho et al. 2014), in PyTorch/cuDNN's form and in the original one."""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._params import check_input, uniform_parameter, zeros_state


def gru_step(xg, hg, h_prev):
    """PyTorch's GRU step from xg = W_i x + b_i and hg = W_h h_{t-1} + b_h, both (B, 3H) in
    [r z n] order; composed from core ops (``fused.GRUStep`` folds it into one entry)."""
    xr, xz, xn = xg.chunk(3, dim=-1)
    hr, hz, hn = hg.chunk(3, dim=-1)
    r = (xr + hr).sigmoid().named("r_t")
    z = (xz + hz).sigmoid().named("z_t")
    n = (xn + r * hn).tanh().named("n_t")
    return ((1 - z) * n + z * h_prev).named("h_t")


class GRUCell(Module):
    """One step of the GRU. With ``reset_after=True`` (the default; PyTorch's and cuDNN's form)
    the reset gate multiplies the recurrent matmul's result:

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        update gate
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)) candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    With ``reset_after=False``, Cho et al. (2014)'s original: the reset gate is applied to
    h_{t-1} before the matmul,

        n_t = tanh (W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn).

    Gates stacked (r, z, n) as ``torch.nn.GRUCell``: weight_ih (3H, I), weight_hh (3H, H),
    bias_ih (3H,), bias_hh (3H,), all U(-1/sqrt(H), 1/sqrt(H)). ``cell(x, h)`` returns h_t.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset_after: bool = True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.reset_after = reset_after
        H = hidden_size
        self.weight_ih = uniform_parameter((3 * H, input_size), H, device, dtype)
        self.weight_hh = uniform_parameter((3 * H, H), H, device, dtype)
        if bias:
            self.bias_ih = uniform_parameter((3 * H,), H, device, dtype)
            self.bias_hh = uniform_parameter((3 * H,), H, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(self, x, h=None):
        check_input("GRUCell", x, self.input_size)
        if h is None:
            h = zeros_state(x.shape[:-1], self.hidden_size, x, "h_0")
        xg = x @ self.weight_ih.mT
        if self.bias_ih is not None:
            xg = xg + self.bias_ih
        if self.reset_after:
            hg = h @ self.weight_hh.mT
            if self.bias_hh is not None:
                hg = hg + self.bias_hh
            return gru_step(xg, hg, h)
        H = self.hidden_size
        w_rz, w_n = self.weight_hh[:2 * H], self.weight_hh[2 * H:]
        hg_rz = h @ w_rz.mT
        if self.bias_hh is not None:
            hg_rz = hg_rz + self.bias_hh[:2 * H]
        xr, xz, xn = xg.chunk(3, dim=-1)
        hr, hz = hg_rz.chunk(2, dim=-1)
        r = (xr + hr).sigmoid().named("r_t")
        z = (xz + hz).sigmoid().named("z_t")
        hn = (r * h) @ w_n.mT
        if self.bias_hh is not None:
            hn = hn + self.bias_hh[2 * H:]
        n = (xn + hn).tanh().named("n_t")
        return ((1 - z) * n + z * h).named("h_t")

    def extra_repr(self) -> str:
        extra = "" if self.reset_after else ", reset_after=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"
