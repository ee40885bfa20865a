"""MUT1, MUT2 and MUT3: the three best architectures found by the evolutionary search of
Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent Network
Architectures" (ICML). The equations below are the paper's, in its notation (h_t is the state
before the step, h_{t+1} after it; sigm the logistic sigmoid).

MUT1 and MUT2 use x_t unprojected (tanh(x_t), and x_t inside r), so, as in the paper where
inputs were embedded to the width of the state, they need input_size == hidden_size.

Parameters (each U(-1/sqrt(H), 1/sqrt(H)), gates stacked in the order listed):
``weight_ih`` holds the matrices that multiply x_t, ``weight_hh`` those that multiply the state
(or r * h_t, or tanh(h_t)), and ``bias`` (3H,) the paper's b_z, b_r, b_h.
"""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._params import check_input, uniform_parameter, zeros_state


class _MUTCell(Module):
    x_gates = 0          # how many H-row blocks weight_ih holds
    h_gates = 0          # how many weight_hh holds
    needs_square = False

    def __init__(self, input_size: int, hidden_size: int, device=None, dtype=None):
        super().__init__()
        if self.needs_square and input_size != hidden_size:
            raise ValueError(f"{type(self).__name__} feeds x_t into the state unprojected, so "
                             f"input_size must equal hidden_size (got {input_size} and "
                             f"{hidden_size}); embed the input to hidden_size first")
        self.input_size, self.hidden_size = input_size, hidden_size
        H = hidden_size
        self.weight_ih = uniform_parameter((self.x_gates * H, input_size), H, device, dtype)
        self.weight_hh = uniform_parameter((self.h_gates * H, H), H, device, dtype)
        self.bias = uniform_parameter((3 * H,), H, device, dtype)

    def forward(self, x, h=None):
        check_input(type(self).__name__, x, self.input_size)
        if h is None:
            h = zeros_state(x.shape[:-1], self.hidden_size, x)
        b_z, b_r, b_h = self.bias.chunk(3)
        return self.step(x, h, b_z, b_r, b_h)

    def _blocks(self, weight):
        return weight.chunk(weight.shape[0] // self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class MUT1Cell(_MUTCell):
    """    z = sigm(W_xz x_t + b_z)
    r = sigm(W_xr x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r * h_t) + tanh(x_t) + b_h) * z + h_t * (1 - z)

    weight_ih = [W_xz; W_xr] (2H, I), weight_hh = [W_hr; W_hh] (2H, H). Needs I == H.
    """
    x_gates, h_gates, needs_square = 2, 2, True

    def step(self, x, h, b_z, b_r, b_h):
        W_xz, W_xr = self._blocks(self.weight_ih)
        W_hr, W_hh = self._blocks(self.weight_hh)
        z = (x @ W_xz.mT + b_z).sigmoid()
        r = (x @ W_xr.mT + h @ W_hr.mT + b_r).sigmoid()
        candidate = ((r * h) @ W_hh.mT + x.tanh() + b_h).tanh()
        return candidate * z + h * (1 - z)


class MUT2Cell(_MUTCell):
    """    z = sigm(W_xz x_t + W_hz h_t + b_z)
    r = sigm(x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r * h_t) + W_xh x_t + b_h) * z + h_t * (1 - z)

    weight_ih = [W_xz; W_xh] (2H, I), weight_hh = [W_hz; W_hr; W_hh] (3H, H). Needs I == H.
    """
    x_gates, h_gates, needs_square = 2, 3, True

    def step(self, x, h, b_z, b_r, b_h):
        W_xz, W_xh = self._blocks(self.weight_ih)
        W_hz, W_hr, W_hh = self._blocks(self.weight_hh)
        z = (x @ W_xz.mT + h @ W_hz.mT + b_z).sigmoid()
        r = (x + h @ W_hr.mT + b_r).sigmoid()
        candidate = ((r * h) @ W_hh.mT + x @ W_xh.mT + b_h).tanh()
        return candidate * z + h * (1 - z)


class MUT3Cell(_MUTCell):
    """    z = sigm(W_xz x_t + W_hz tanh(h_t) + b_z)
    r = sigm(W_xr x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r * h_t) + W_xh x_t + b_h) * z + h_t * (1 - z)

    weight_ih = [W_xz; W_xr; W_xh] (3H, I), weight_hh = [W_hz; W_hr; W_hh] (3H, H).
    """
    x_gates, h_gates = 3, 3

    def step(self, x, h, b_z, b_r, b_h):
        W_xz, W_xr, W_xh = self._blocks(self.weight_ih)
        W_hz, W_hr, W_hh = self._blocks(self.weight_hh)
        z = (x @ W_xz.mT + h.tanh() @ W_hz.mT + b_z).sigmoid()
        r = (x @ W_xr.mT + h @ W_hr.mT + b_r).sigmoid()
        candidate = ((r * h) @ W_hh.mT + x @ W_xh.mT + b_h).tanh()
        return candidate * z + h * (1 - z)
