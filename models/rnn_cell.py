"""The Elman RNN cell: the step composed from core ops (``rnn_step``, what ``RNNCell`` and
``RNN(fused=False)`` run); the fused sweep (``fused.RNNSweep``) needs no array helper of its own
(one tanh or maximum per step)."""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._params import check_input, uniform_parameter, zeros_state


def rnn_step(xg, h_prev, w_hh_t, nonlinearity: str = "tanh"):
    """h_t = phi(xg + h_{t-1} W_hh^T), xg = W_ih x_t + b_ih + b_hh, w_hh_t = W_hh^T (transposed
    once for all steps), phi = tanh or relu."""
    pre = xg + h_prev @ w_hh_t
    if nonlinearity == "tanh":
        return pre.tanh().named("h_t")
    if nonlinearity == "relu":
        return pre.relu().named("h_t")
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


class RNNCell(Module):
    """One step of the Elman RNN:

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        (or relu instead of tanh)

    weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,), all U(-1/sqrt(H), 1/sqrt(H))
    as ``torch.nn.RNNCell``. ``cell(x, h)`` with x (B, I) or (I,), h the same batch shape
    (zeros when omitted); returns h_t.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        H = hidden_size
        self.weight_ih = uniform_parameter((H, input_size), H, device, dtype)
        self.weight_hh = uniform_parameter((H, H), H, device, dtype)
        if bias:
            self.bias_ih = uniform_parameter((H,), H, device, dtype)
            self.bias_hh = uniform_parameter((H,), H, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(self, x, h=None):
        check_input("RNNCell", x, self.input_size)
        if h is None:
            h = zeros_state(x.shape[:-1], self.hidden_size, x, "h_0")
        xg = x @ self.weight_ih.mT
        if self.bias_ih is not None:
            xg = xg + (self.bias_ih + self.bias_hh)
        return rnn_step(xg, h, self.weight_hh.mT, self.nonlinearity)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
