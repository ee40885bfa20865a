"""Recurrent layers over whole sequences: ``RNN``, ``LSTM`` and ``GRU``, with PyTorch's API.

    lstm = LSTM(input_size, hidden_size, num_layers=2, bidirectional=True, dropout=0.1)
    output, (h_n, c_n) = lstm(x)           # x: (T, B, I), or (B, T, I) with batch_first=True

Shapes as ``torch.nn``: output (T, B, D*H), h_n and c_n (num_layers*D, B, H), D = 2 when
bidirectional; an unbatched (T, I) input gives (T, D*H) and (num_layers*D, H). Parameters are
named and shaped as PyTorch's (``weight_ih_l0`` (G*H, I), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``; gates i,f,g,o for the LSTM and r,z,n for the
GRU), so a PyTorch layer's ``state_dict`` loads unchanged.

How a layer runs (per layer, per direction, a "sweep" over time):

* ``fused=True`` (default): one tape entry per sweep, ``fused.LSTMSweep`` / ``GRUSweep`` /
  ``RNNSweep``: its forward computes XG = X W_ih^T for all steps in one matmul and runs the
  time loop on arrays; its backward is BPTT over the saved activations, with dW_hh, dW_ih and
  dX one matmul each over all steps. First-order gradients only.
* ``fused=False``: the same hoisted projection XG = X W_ih^T + b as one core op, then a plain
  loop over the cells' steps (``lstm_cell.lstm_step``, ``gru_cell.gru_step``,
  ``rnn_cell.rnn_step``: what ``LSTMCell`` / ``GRUCell`` / ``RNNCell`` run) on the slices XG[t],
  each step's ops recorded inside ``tg.scope("t=<t>")`` (``/l<layer>`` and ``_reverse``
  appended when there are several layers or directions) so graph drawings cluster them by time
  step. Its backward is itself differentiable (``create_graph=True`` works).

Dropout (training only) on each layer's output except the last.
"""
from __future__ import annotations

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.errors import OpError
from tinygrad_rnn.nn import Module
from tinygrad_rnn.ops.shape import SliceCopy

from . import fused
from ._params import uniform_parameter, zeros_state
from .gru_cell import gru_step
from .lstm_cell import lstm_step
from .rnn_cell import rnn_step


class RecurrentLayer(Module):
    """The machinery shared by RNN, LSTM and GRU (see the module docstring)."""
    gates = 1            # blocks of H rows in weight_ih / weight_hh
    state_kinds = 1      # 2 for the LSTM: (h, c)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 fused: bool = True, device=None, dtype=None, *,
                 checkpoint_every: int | None = None):
        super().__init__()
        name = type(self).__name__
        self.checkpoint_every = _segment_size(name, checkpoint_every, fused)
        if num_layers < 1:
            raise ValueError(f"{name}: num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if hidden_size < 1:
            raise ValueError(f"{name}: hidden_size must be positive, got {hidden_size}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.fused = bidirectional, fused
        self.num_directions = 2 if bidirectional else 1
        H, G = hidden_size, self.gates * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else H * self.num_directions
            for direction in range(self.num_directions):
                suffix = _suffix(layer, direction)
                setattr(self, "weight_ih" + suffix, uniform_parameter((G, width), H, device, dtype))
                setattr(self, "weight_hh" + suffix, uniform_parameter((G, H), H, device, dtype))
                if bias:
                    setattr(self, "bias_ih" + suffix, uniform_parameter((G,), H, device, dtype))
                    setattr(self, "bias_hh" + suffix, uniform_parameter((G,), H, device, dtype))
                else:
                    self.register_parameter("bias_ih" + suffix, None)
                    self.register_parameter("bias_hh" + suffix, None)

    # ------------------------------------------------------------------ forward
    def forward(self, input, hx=None):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise OpError(f"{name}: expected a (T, B, I) input, or (B, T, I) with batch_first, "
                          f"or an unbatched (T, I) one; got shape {tuple(input.shape)}")
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise OpError(f"{name}: input's last dimension is {x.shape[-1]}, expected "
                          f"input_size={self.input_size} (input shape {tuple(input.shape)})")
        initial = self._initial_states(hx, x.shape[1], batched)
        D = self.num_directions
        finals = [[] for _ in range(self.state_kinds)]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(D):
                start = [s[layer * D + direction] if s is not None else None for s in initial]
                y, last = self._sweep(layer_input, layer, direction, start)
                outputs.append(y)
                for kind, value in enumerate(last):
                    finals[kind].append(value)
            layer_input = outputs[0] if D == 1 else F.cat(outputs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout)
        output = layer_input
        states = [values[0] if len(values) == 1 else F.cat(values, 0) for values in finals]
        if not batched:
            output = output.squeeze(1)
            states = [s.squeeze(1) for s in states]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, self._pack(states)

    def _pack(self, states):
        return states[0]

    def _unpack(self, hx) -> list:
        return [hx]

    def _initial_states(self, hx, batch: int, batched: bool) -> list:
        """[h_0] (or [h_0, c_0]) as (L*D, B, H) tensors, or None where zero."""
        if hx is None:
            return [None] * self.state_kinds
        states = self._unpack(hx)
        want = (self.num_layers * self.num_directions, batch, self.hidden_size)
        checked = []
        for s in states:
            if s is not None and not batched:
                if s.ndim != 2:
                    raise OpError(f"{type(self).__name__}: for an unbatched input the initial "
                                  f"state must be (num_layers*D, H), got {tuple(s.shape)}")
                s = s.unsqueeze(1)
            if s is not None and tuple(s.shape) != want:
                raise OpError(f"{type(self).__name__}: initial state must have shape {want} "
                              f"(num_layers*num_directions, batch, hidden_size), got "
                              f"{tuple(s.shape)}")
            checked.append(s)
        return checked

    def _weights(self, layer: int, direction: int):
        suffix = _suffix(layer, direction)
        return tuple(getattr(self, name + suffix)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _project(self, x, w_ih, bias=None):
        """XG = X W_ih^T (+ bias) for all T steps: one (T*B, I) @ (I, G) matmul."""
        T, B, I = x.shape
        xg = x.reshape(T * B, I) @ w_ih.mT
        if bias is not None:
            xg = xg + bias
        return xg.reshape(T, B, xg.shape[-1])

    def _input_bias(self, b_ih, b_hh):
        """The bias folded into XG: both biases for the LSTM and the RNN (they are only
        added), b_ih alone for the GRU (b_hn sits inside r * (W_hn h + b_hn))."""
        return None if b_ih is None else b_ih + b_hh

    def _sweep(self, x, layer: int, direction: int, start: list):
        """One layer in one direction: (output (T, B, H), [h_n] or [h_n, c_n], each (1, B, H)
        and memory of its own, as torch's)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        reverse = direction == 1
        label = None
        if self.num_layers > 1 or self.num_directions > 1:
            label = f"l{layer}" + ("_reverse" if reverse else "")
        T, B = x.shape[0], x.shape[1]
        state = [s if s is not None else zeros_state((B,), self.hidden_size, x, name)
                 for s, name in zip(start, ("h_0", "c_0"))]
        if self.fused:
            biases = () if b_ih is None else (b_ih, b_hh)
            out = self._fused_sweep(reverse, label).apply(x, w_ih, w_hh, *state, *biases)
            last = 0 if reverse else T - 1      # h_n (c_n): a copy of out[k, last], one op
            return out[0], [SliceCopy((slice(k, k + 1), last)).apply(out)
                            for k in range(self.state_kinds)]
        xg = self._project(x, w_ih, self._input_bias(b_ih, b_hh))
        if self.checkpoint_every and tg.is_grad_enabled():
            y, state = self._sweep_checkpointed(xg, w_hh, b_hh, state, reverse, label)
        else:
            y, state = self._sweep_composed(xg, w_hh, b_hh, state, _order(T, reverse), label)
        return y, [F.stack([s], 0) for s in state]

    def _sweep_composed(self, xg, w_hh, b_hh, state, steps, label):
        """The lecture's loop: the cell's step on XG[t] for t in ``steps``."""
        w_hh_t = w_hh.mT                     # once: every step's share of dW_hh sums in one place
        outputs = [None] * xg.shape[0]
        for t in steps:
            with tg.scope(fused.step_name(t, label)):
                state = self._cell_step(xg[t], state, w_hh_t, b_hh)
            outputs[t] = state[0]
        return F.stack(outputs, 0), state

    def _sweep_checkpointed(self, xg, w_hh, b_hh, state, reverse: bool, label):
        """checkpoint_every=k: the composed sweep in segments of k steps, each one run again
        during backward (tg.checkpoint), so BPTT keeps T/k states and one segment's values
        at a time: memory O(T/k + k) instead of O(T). Step scopes count within a segment."""
        T, k = xg.shape[0], self.checkpoint_every
        pieces = {}
        bounds = [(low, min(low + k, T)) for low in range(0, T, k)]
        for low, high in (reversed(bounds) if reverse else bounds):
            def segment(xs, *state, steps=_order(high - low, reverse)):
                outputs, state = self._sweep_composed(xs, w_hh, b_hh, list(state), steps, label)
                return (outputs, *state)
            pieces[low], *state = tg.checkpoint(segment, xg[low:high], *state)
        return F.cat([pieces[low] for low, _ in bounds], 0), list(state)

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        if not self.fused:
            parts.append("fused=False")
        return ", ".join(parts)


def _segment_size(name: str, every, fused: bool):
    """checkpoint_every: None (store every step) or a positive number of steps per segment."""
    if every is None:
        return None
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"{name}: checkpoint_every must be a positive int (steps per "
                         f"segment) or None, got {every!r}")
    if fused:
        raise ValueError(f"{name}: checkpoint_every needs fused=False (the composed cells are "
                         "recomputed segment by segment; the fused kernels keep their own arrays)")
    return every


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")




class RNN(RecurrentLayer):
    """Elman RNN over a sequence, layer by layer:

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (relu with nonlinearity="relu")

    ``rnn(x, h_0=None)`` returns (output, h_n). See the module docstring for shapes and options.
    What runs: by default ``fused.RNNSweep.forward`` / ``.backward`` (models/fused.py), one tape
    entry per layer and direction; with ``fused=False``, ``rnn_cell.rnn_step`` at every step.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, fused: bool = True,
                 device=None, dtype=None, *, checkpoint_every: int | None = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, fused, device, dtype, checkpoint_every=checkpoint_every)
        self.nonlinearity = nonlinearity

    def _fused_sweep(self, reverse: bool, label):
        return fused.RNNSweep(reverse, label, relu=self.nonlinearity == "relu")

    def _cell_step(self, xg_t, state, w_hh_t, b_hh) -> list:
        return [rnn_step(xg_t, state[0], w_hh_t, self.nonlinearity)]

    def extra_repr(self) -> str:
        extra = ", nonlinearity='relu'" if self.nonlinearity == "relu" else ""
        return super().extra_repr() + extra


class LSTM(RecurrentLayer):
    """LSTM over a sequence, layer by layer (gates in PyTorch's order i, f, g, o):

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t,    h_t = o_t * tanh(c_t)

    ``lstm(x, (h_0, c_0)=None)`` returns (output, (h_n, c_n)).
    What runs: by default ``fused.LSTMSweep.forward`` / ``.backward`` (models/fused.py), one tape
    entry per layer and direction; with ``fused=False``, ``lstm_cell.lstm_step`` at every step.
    """
    gates, state_kinds = 4, 2

    def _pack(self, states):
        return states[0], states[1]

    def _unpack(self, hx) -> list:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise OpError("LSTM: the initial state must be a pair (h_0, c_0)")
        return list(hx)

    def _fused_sweep(self, reverse: bool, label):
        return fused.LSTMSweep(reverse, label)

    def _cell_step(self, xg_t, state, w_hh_t, b_hh) -> list:
        return list(lstm_step(xg_t, state, w_hh_t))


class GRU(RecurrentLayer):
    """GRU over a sequence, layer by layer (PyTorch's form, gates r, z, n):

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    With ``reset_after=False`` (not in PyTorch's layer; ``GRUCell``'s option), Cho et al.'s
    original form: n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn).
    ``gru(x, h_0=None)`` returns (output, h_n).
    What runs: by default ``fused.GRUSweep.forward`` / ``.backward`` (``GRUOriginalSweep`` with
    reset_after=False; models/fused.py), one tape entry per layer and direction; with
    ``fused=False``, ``gru_cell.gru_step`` at every step.
    """
    gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 fused: bool = True, device=None, dtype=None, reset_after: bool = True, *,
                 checkpoint_every: int | None = None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, fused, device, dtype, checkpoint_every=checkpoint_every)
        self.reset_after = reset_after

    def _input_bias(self, b_ih, b_hh):
        return b_ih

    def _fused_sweep(self, reverse: bool, label):
        if self.reset_after:
            return fused.GRUSweep(reverse, label)
        return fused.GRUOriginalSweep(reverse, label)

    def _cell_step(self, xg_t, state, w_hh_t, b_hh) -> list:
        return [gru_step(xg_t, state[0], w_hh_t, b_hh, self.reset_after)]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")


def _order(T: int, reverse: bool):
    """The steps in the order a sweep runs them."""
    return range(T - 1, -1, -1) if reverse else range(T)
