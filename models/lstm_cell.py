"""The LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)."""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._params import check_input, uniform_parameter, zeros_state


def lstm_step(pre, c_prev):
    """The pointwise part of an LSTM step from the gate pre-activations ``pre`` (B, 4H) in
    PyTorch's order [i f g o]; returns (h_t, c_t). Composed from core ops: each gate is its own
    tape entry, which is what the fused cell (``fused.LSTMStep``) folds into one."""
    i, f, g, o = pre.chunk(4, dim=-1)
    i, f = i.sigmoid().named("i_t"), f.sigmoid().named("f_t")
    g, o = g.tanh().named("g_t"), o.sigmoid().named("o_t")
    c = (f * c_prev + i * g).named("c_t")
    return (o * c.tanh()).named("h_t"), c


class LSTMCell(Module):
    """One step of the LSTM:

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)      candidate cell
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    The four gates are stacked in that order (i, f, g, o) as in ``torch.nn.LSTMCell``:
    weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,), all drawn from
    U(-1/sqrt(H), 1/sqrt(H)). ``cell(x, (h, c))`` returns (h_t, c_t); the state defaults to 0.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        H = hidden_size
        self.weight_ih = uniform_parameter((4 * H, input_size), H, device, dtype)
        self.weight_hh = uniform_parameter((4 * H, H), H, device, dtype)
        if bias:
            self.bias_ih = uniform_parameter((4 * H,), H, device, dtype)
            self.bias_hh = uniform_parameter((4 * H,), H, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(self, x, state=None):
        check_input("LSTMCell", x, self.input_size)
        if state is None:
            h = zeros_state(x.shape[:-1], self.hidden_size, x, "h_0")
            c = zeros_state(x.shape[:-1], self.hidden_size, x, "c_0")
        else:
            h, c = state
        pre = x @ self.weight_ih.mT + h @ self.weight_hh.mT
        if self.bias_ih is not None:
            pre = pre + (self.bias_ih + self.bias_hh)
        return lstm_step(pre, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
