"""The LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000):
the step composed from core ops (``lstm_step``, what ``LSTMCell`` and ``LSTM(fused=False)`` run)
and the same step's pointwise part on arrays, forward and backward (``lstm_pointwise*``, what
the fused sweep ``fused.LSTMSweep`` runs)."""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._arrays import kernel_or_xp, sigmoid_
from ._params import check_input, uniform_parameter, zeros_state


def lstm_step(xg, state, w_hh_t):
    """One LSTM step from xg = W_ih x_t + b_ih + b_hh (B, 4H), state = (h_{t-1}, c_{t-1}) and
    w_hh_t = W_hh^T (transposed once for all steps, so that its gradient is one sum); returns
    (h_t, c_t). Gates in PyTorch's order [i f g o]; each op is its own tape entry."""
    h_prev, c_prev = state
    pre = xg + h_prev @ w_hh_t
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
            state = (h, c)
        xg = x @ self.weight_ih.mT
        if self.bias_ih is not None:
            xg = xg + (self.bias_ih + self.bias_hh)
        return lstm_step(xg, state, self.weight_hh.mT)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


# ---------------------------------------------------------------- the step on arrays (fused)
def lstm_pointwise(gates, c_prev, h_out, c_out) -> None:
    """``gates`` (B, 4H), the pre-activations [i f g o], is replaced in place by the activations
    i, f, o = sigma(.), g = tanh(.); then c_out = f c_{t-1} + i g and h_out = o tanh(c_out)."""
    kernel, xp = kernel_or_xp("lstm_pointwise", gates)
    if kernel is not None:
        return kernel(gates, c_prev, h_out, c_out)
    H = c_prev.shape[-1]
    sigmoid_(xp, gates[:, :2 * H])
    xp.tanh(gates[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])
    sigmoid_(xp, gates[:, 3 * H:])
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    xp.multiply(f, c_prev, out=c_out)
    c_out += i * g
    xp.tanh(c_out, out=h_out)
    h_out *= o


def lstm_pointwise_backward(gates, c_prev, c, dh, dc, dgates_out, dc_prev_out) -> None:
    """From the activations ``gates`` [i f g o], c_{t-1}, c_t and dh = dL/dh_t, dc = dL/dc_t
    (from later steps and outputs):

        dc_t = dc + dh o (1 - tanh^2 c_t),   dc_{t-1} = dc_t f      -> dc_prev_out
        d pre = [dc_t g i(1-i), dc_t c_{t-1} f(1-f), dc_t i (1-g^2), dh tanh(c_t) o(1-o)]
                                                                     -> dgates_out (B, 4H)
    ``dgates_out`` may be ``gates`` (each column is read before its gradient is written)."""
    kernel, xp = kernel_or_xp("lstm_pointwise_backward", gates)
    if kernel is not None:
        return kernel(gates, c_prev, c, dh, dc, dgates_out, dc_prev_out)
    # Products land in fresh contiguous temporaries and are written once into the strided
    # gate columns: measured faster than chains of in-place ops on the strided views. Each
    # column is read for the last time before its own gradient is written there, so
    # ``dgates_out`` may be ``gates`` itself (the sweep's backward writes over its activations).
    H = c_prev.shape[-1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    tc = xp.tanh(c)
    dct = dh * o
    dct *= 1 - tc * tc
    dct += dc
    xp.multiply(dh * tc, o * (1 - o), out=dgates_out[:, 3 * H:])
    xp.multiply(dct, f, out=dc_prev_out)
    xp.multiply(dct * c_prev, f * (1 - f), out=dgates_out[:, H:2 * H])
    dct_g = dct * g
    xp.multiply(dct * i, 1 - g * g, out=dgates_out[:, 2 * H:3 * H])
    xp.multiply(dct_g, i * (1 - i), out=dgates_out[:, :H])
