"""Fused recurrent sweeps: one tape entry per layer and direction, forward and BPTT on arrays.

A sweep runs one layer in one direction over the whole sequence. Its forward is the loop a
hand-written NumPy RNN runs:

    XG = X W_ih^T + b               all T steps at once, one (T*B, I) @ (I, G) matmul
    for t = 0 .. T-1 (T-1 .. 0 when reverse):
        pre_t = XG[t] + h_{t-1} W_hh^T
        (h_t, c_t) = pointwise(pre_t, c_{t-1})       the cell's own equations:

    LSTM   i, f, o = sigma(pre_[i f o]),  g = tanh(pre_g),  c_t = f c_{t-1} + i g,
           h_t = o tanh(c_t)
    GRU    r = sigma(xg_r + hg_r),  z = sigma(xg_z + hg_z),  n = tanh(xg_n + r hg_n),
           h_t = (1 - z) n + z h_{t-1},    xg = W_ih x_t + b_ih,  hg = W_hh h_{t-1} + b_hh
    RNN    h_t = tanh(pre_t)  (or relu)

and its backward is backpropagation through time over the saved gate activations, last step
to first. With dh_t = dL/dh_t from the outputs plus the carry from step t+1:

    d pre_t       = pointwise_backward(dh_t, dc_t)                (the cells' VJP, below)
    dh_{t-1}      = d pre_t W_hh        (GRU: dh_t z + dhg_t W_hh)
    dc_{t-1}      = dc_t f_t            (LSTM)
    dW_hh = sum_t d pre_t^T h_{t-1}     one (G, T*B) @ (T*B, H) matmul after the loop
    dW_ih = dXG^T X,  dX = dXG W_ih,  db = sum_t d pre_t   one matmul (or sum) each

The pointwise parts live beside the cells (``lstm_cell.lstm_pointwise``, ...), on arrays, with
CuPy's ElementwiseKernels behind the backend's kernel registry. Everything a sweep keeps is its
own (the activations, the states): no tape entry reads what another wrote, and nothing refers
back to the sweep but its output tensor.

Output: one (K, T, B, H) array, K = 2 for the LSTM (h_t and c_t) and 1 otherwise, in time order;
the layer takes y = out[0] and the final states out[k, last] as slices (the core accumulates the
gradients of basic slices of one tensor into one buffer, so this costs one array, not three; a
loss on y alone hands the sweep y's gradient as it is, with no zeros for the rest:
``accumulate.parts_of``). A backward that frees the graph (no retain_graph) writes d pre over
the saved activations (step t reads them before it writes), as a hand-written BPTT reuses its
buffers; the RNN, which keeps no activations, writes it over dL/dy when that is its own.
First-order only: the VJP is written on arrays; ``fused=False`` (the composed cells) is the path
for gradients of gradients, and gives the same first-order gradients (tested).
"""
from __future__ import annotations

from tinygrad_rnn.accumulate import gradient_to_write_over, parts_of
from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.errors import BackwardError
from tinygrad_rnn.function import Function, needs_grad
from tinygrad_rnn.ops import column_sums
from tinygrad_rnn.state import STATE
from tinygrad_rnn.tensor import Tensor

from .gru_cell import (gru_original_backward, gru_original_backward_reset, gru_original_gates,
                       gru_original_output, gru_pointwise, gru_pointwise_backward)
from .lstm_cell import lstm_pointwise, lstm_pointwise_backward


class _Sweep(Function):
    """Inputs (X, W_ih, W_hh, *initial states (K), *biases (b_ih, b_hh, or none)) -> (K, T, B, H).
    ``saved`` holds what backward reads: the states (K, T+1, B, H), with slot 0 (slot T when
    reverse) the initial one, and the cell's activations."""
    __slots__ = ("reverse", "label", "steps", "saved", "state_norms")
    kinds = 1
    uses_output = True
    takes_lazy_grad = True     # a loss on y = out[0] alone sends no zeros for the c_t part
    # what dL/dstate_t means at each step, for the drawings: an LSTM's c part is the gradient
    # from step t+1 only (c_t's path through h_t = o tanh(c_t) is inside the step's VJP)
    state_names: tuple = ("h_t",)

    def __init__(self, reverse: bool = False, label: str | None = None):
        self.reverse, self.label, self.steps, self.saved = reverse, label, 0, None
        # set to {} by whoever wants the per-step ||dL/dh_t|| (viz); filled by backward
        self.state_norms: dict | None = None

    def extra_repr(self) -> str:
        where = "" if self.label is None else f", {self.label}"
        return f"T={self.steps}, fused{where}"

    def release(self) -> None:
        super().release()
        self.saved = None

    # -- shared by the three cells
    def order(self, T: int):
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def slots(self, t: int) -> tuple:
        """(the slot step t reads, the slot it writes) in the states array."""
        return (t + 1, t) if self.reverse else (t, t + 1)

    def start(self, x, w_ih, w_hh, initial, bias):
        """XG = X W_ih^T (+ bias) as (T, B, G), and the states array with S_0 in place."""
        T, B, I = x.shape
        self.steps = T
        xp = backend_for(x).xp
        xg = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, w_ih.shape[0])
        if bias is not None:
            xg += bias
        states = xp.empty((self.kinds, T + 1, B, w_hh.shape[1]), dtype=xg.dtype)
        for kind, state in enumerate(initial):
            states[kind, T if self.reverse else 0] = state
        return xp, xg, states

    def steps_with_recurrence(self, xp, xg, states, w_hh):
        """For each step in order, pre_t = XG[t] + h_{t-1} W_hh^T written over XG[t]; yields
        (pre_t, the slot step t reads, the slot it writes)."""
        scratch = xp.empty(xg.shape[1:], dtype=xg.dtype)
        w_t = transposed(w_hh, xp, *xg.shape[:2])
        for t in self.order(xg.shape[0]):
            read, write = self.slots(t)
            pre = xg[t]
            pre += xp.matmul(states[0, read], w_t, out=scratch)
            yield pre, read, write

    def outputs(self, states):
        return states[:, :-1] if self.reverse else states[:, 1:]

    def previous(self, states):
        """h_{t-1} of every step, in time order: (T, B, H), contiguous."""
        return states[0, 1:] if self.reverse else states[0, :-1]

    def input_grads(self, dxg, dhg, carries, biases: tuple, dw_hh=None) -> list:
        """Every input's gradient from dXG (T, B, G), dHG (the part through W_hh; the same array
        but for the GRU) and the carries into the initial states; ``dw_hh(flat_h, H)``, when
        given, computes W_hh's gradient (the original GRU's is not dHG^T H)."""
        x, w_ih, w_hh = self.edges[:3]
        states = self.saved[-1]
        T, B, I = x.shape
        flat_x, flat_h = dxg.reshape(T * B, -1), dhg.reshape(T * B, -1)
        grads = [None] * len(self.edges)
        if needs_grad(x):
            grads[0] = Tensor._make((flat_x @ w_ih.data).reshape(T, B, I))
        # dW_hh first: BPTT has just read the states it multiplies, and X was read last in
        # the forward (the other order evicts states for X, then misses them)
        if needs_grad(w_hh):
            previous = self.previous(states).reshape(T * B, -1)
            grads[2] = Tensor._make(flat_h.T @ previous if dw_hh is None else dw_hh(flat_h,
                                                                                     previous))
        if needs_grad(w_ih):
            grads[1] = Tensor._make(flat_x.T @ x.data.reshape(T * B, I))
        for k, carry in enumerate(carries):
            if carry is not None and needs_grad(self.edges[3 + k]):
                grads[3 + k] = Tensor._make(carry)
        if biases:
            b_ih, b_hh = 3 + self.kinds, 4 + self.kinds
            db_ih = column_sums(flat_x)
            if needs_grad(self.edges[b_ih]):
                grads[b_ih] = Tensor._make(db_ih)
            if needs_grad(self.edges[b_hh]):     # the same sum when both biases are added alike
                grads[b_hh] = Tensor._make(db_ih.copy() if dhg is dxg else column_sums(flat_h))
        if STATE.overwrite_saved:     # the last read of what was saved: let it go now, not
            self.saved = None         # when the whole backward ends
        return grads

    def step_name(self, t: int) -> str:
        """Step t's name, as the composed layer's ``tg.scope`` names it."""
        return step_name(t, self.label)

    def saved_by_step(self) -> list:
        """[(step name, bytes)] of the arrays BPTT keeps (``saved``), in the order the steps
        ran: each step's rows of the per-step arrays (its activations, GRU's hn_t or q_t) and the
        state slot it writes; the first step also the slot of the initial state it reads. The
        bytes sum to the arrays' own (the profiler splits the sweep's memory with this)."""
        if not self.saved or not self.steps:
            return []
        *per_step, states = self.saved
        T = self.steps
        slot = states.nbytes // (T + 1)
        each = sum(a.nbytes for a in per_step) // T + slot
        return [(self.step_name(t), each + (slot if k == 0 else 0))
                for k, t in enumerate(self.order(T))]

    def note_state_grads(self, t: int, *grads) -> None:
        """Keep ||dL/dstate_t|| of step t when asked (``state_norms`` is a dict): the sweep's
        BPTT is the only place the per-step state gradients exist."""
        if self.state_norms is not None:
            xp = backend_for(grads[0]).xp
            self.state_norms[t] = [float(xp.sqrt((g * g).sum())) for g in grads]

    def backward_steps(self, T: int) -> list:
        """(t, whether dL/dh_{t-1} is needed) from the sweep's last step to its first."""
        initial = any(needs_grad(s) for s in self.edges[3:3 + self.kinds])
        return [(t, k < T - 1 or initial) for k, t in enumerate(reversed(self.order(T)))]


def _first_order_only(name: str) -> None:
    if STATE.grad_enabled:
        raise BackwardError(
            f"{name}: fused recurrent sweeps give first-order gradients only, and this backward "
            "has create_graph=True; build the layer with fused=False (the composed cell, whose "
            "backward is itself differentiable) to take gradients of gradients")


def step_name(t: int, label: str | None) -> str:
    """``t=3`` (``t=3/l1_reverse`` in a multi-layer or bidirectional layer)."""
    return f"t={t}" if label is None else f"t={t}/{label}"


# from this many steps on, with more than one row per step, a sweep copies W_hh^T (transposed)
COPY_FROM_STEPS = 8


def transposed(w, xp, steps: int, batch: int):
    """W_hh^T for a sweep's T products h_{t-1} W_hh^T: a C-ordered copy of its own when the sweep
    is long enough, else the transposed view. OpenBLAS multiplies several rows faster by a
    C-ordered (H, G) matrix than by the transposed view of the (G, H) weight: (64, 512) @
    (512, 2048) 2.1 ms against 2.4, (4, 512) @ (512, 2048) 0.68 against 1.18, (32, 128) @
    (128, 128) 16 us against 29 (OpenBLAS 0.3.31, one thread, a Xeon with AVX-512); one row
    (sampling) gains nothing. The copy costs 1.6 ms for a (2048, 512) weight, made in blocks of
    128 rows (one transposing copy strides through memory and takes 9 ms): it pays for itself
    after about 5 steps there, 2 for (512, 128); a one-step sweep of a (1, 65) input ran 4.8x
    slower with it, so short sweeps and one-row batches keep the view. On a GPU the view is
    kept: cuBLAS reads a transposed operand through a flag, and a copy there, one kernel per
    block, has not been measured to pay."""
    if steps < COPY_FROM_STEPS or batch < 2 or xp.__name__ != "numpy":
        return w.T
    out = xp.empty(w.shape[::-1], dtype=w.dtype)
    for low in range(0, w.shape[0], 128):
        out[:, low:low + 128] = w[low:low + 128].T
    return out


def _carry(part, t: int, carry, xp, like, out=None):
    """dL/dstate_t: the output's gradient at step t (``part``: (T, B, H), or None where no
    gradient reached that output) plus what step t+1 sends back; read, never written. A sum
    goes into ``out`` when given (a buffer of like's shape), else into a fresh array."""
    if part is None:
        return carry if carry is not None else xp.zeros(like.shape, dtype=like.dtype)
    return part[t] if carry is None else xp.add(part[t], carry, out=out)


class LSTMSweep(_Sweep):
    """The LSTM over a sequence (module docstring). Saved: the activations [i f g o] of every
    step (written over XG, which is this entry's own array) and the states (h, c)."""
    __slots__ = ()
    kinds = 2
    state_names = ("h_t", "c_t (from t+1)")
    name = "lstm sweep"
    formula = "BPTT: dpre_t = lstm_grads(dh_t, dc_t); dh_{t-1} = dpre_t W_hh; dW_hh = dPRE^T H"

    def forward(self, x, w_ih, w_hh, h0, c0, *biases):
        bias = biases[0] + biases[1] if biases else None
        xp, acts, states = self.start(x, w_ih, w_hh, (h0, c0), bias)
        for gates, read, write in self.steps_with_recurrence(xp, acts, states, w_hh):
            lstm_pointwise(gates, states[1, read], states[0, write], states[1, write])
        self.saved = (acts, states)
        return self.outputs(states)

    def backward(self, gy, y):
        _first_order_only(self.name)
        acts, states = self.saved
        w_hh = self.edges[2].data
        xp, (g_h, g_c) = backend_for(acts).xp, parts_of(gy, 2)
        # step t reads acts[t] only, before it writes dpre[t]: one array can hold both
        dpre = acts if STATE.overwrite_saved else xp.empty_like(acts)
        dh = dc = None
        for t, carry in self.backward_steps(acts.shape[0]):
            read, write = self.slots(t)
            dh_t = _carry(g_h, t, dh, xp, states[0, 0])
            dc_t = _carry(g_c, t, dc, xp, states[1, 0])
            self.note_state_grads(t, dh_t, dc_t)
            dc = xp.empty_like(dh_t)
            lstm_pointwise_backward(acts[t], states[1, read], states[1, write], dh_t, dc_t,
                                    dpre[t], dc)
            dh = dpre[t] @ w_hh if carry else None
        return self.input_grads(dpre, dpre, (dh, dc), self.edges[5:])


class GRUSweep(_Sweep):
    """The GRU over a sequence (PyTorch's reset-after form; module docstring). Saved: [r z n]
    of every step (written over XG), hn_t = W_hn h_{t-1} + b_hn, and the states."""
    __slots__ = ()
    name = "gru sweep"
    formula = ("BPTT: dxg_t, dhg_t = gru_grads(dh_t); dh_{t-1} = dh_t z + dhg_t W_hh; "
               "dW_hh = dHG^T H")

    def forward(self, x, w_ih, w_hh, h0, *biases):
        b_ih, b_hh = biases if biases else (None, None)
        xp, acts, states = self.start(x, w_ih, w_hh, (h0,), b_ih)
        hn = xp.empty(self.previous(states).shape, dtype=acts.dtype)     # (T, B, H)
        hg = xp.empty(acts.shape[1:], dtype=acts.dtype)
        w_t = transposed(w_hh, xp, *acts.shape[:2])
        for t in self.order(x.shape[0]):
            read, write = self.slots(t)
            xp.matmul(states[0, read], w_t, out=hg)
            if b_hh is not None:
                hg += b_hh
            gru_pointwise(acts[t], hg, states[0, read], states[0, write], hn[t])
        self.saved = (acts, hn, states)
        return self.outputs(states)

    def backward(self, gy, y):
        _first_order_only(self.name)
        acts, hn, states = self.saved
        w_hh = self.edges[2].data
        xp, (g,) = backend_for(acts).xp, parts_of(gy, 1)
        H = hn.shape[-1]
        # step t reads acts[t] only, before it writes dxg[t]: one array can hold both
        dxg = acts if STATE.overwrite_saved else xp.empty_like(acts)
        dhg = xp.empty_like(acts)
        dh = None
        for t, carry in self.backward_steps(acts.shape[0]):
            read, _ = self.slots(t)
            dh_t = _carry(g, t, dh, xp, hn[0])
            self.note_state_grads(t, dh_t)
            dh = xp.empty_like(dh_t)
            gru_pointwise_backward(acts[t], hn[t], states[0, read], dh_t, dxg[t],
                                   dhg[t, :, 2 * H:], dh)
            dhg[t, :, :2 * H] = dxg[t, :, :2 * H]
            if carry:
                dh += dhg[t] @ w_hh
        return self.input_grads(dxg, dhg, (dh,), self.edges[4:])


class GRUOriginalSweep(_Sweep):
    """The GRU over a sequence in Cho et al.'s original form (``reset_after=False``):

        [r z] = sigma(xg_rz + W_h[rz] h_{t-1} + b_h[rz]),  q = r h_{t-1},
        n = tanh(xg_n + W_hn q + b_hn),  h_t = (1 - z) n + z h_{t-1}.

    BPTT: dn_pre = dh (1-z)(1-n^2), dz_pre = dh (h_{t-1} - n) z(1-z), dq = dn_pre W_hn,
    dr_pre = dq h_{t-1} r(1-r), dh_{t-1} = dh z + dq r + [dr_pre dz_pre] W_h[rz];
    dW_h[rz] = [dR dZ]^T H, dW_hn = dN^T Q, db_hh = db_ih = sum of [dr dz dn]. Saved: [r z n]
    (written over XG), q of every step, and the states."""
    __slots__ = ()
    name = "gru sweep"
    formula = ("BPTT: dn, dz = gru_grads(dh_t); dq = dn W_hn; dr = dq h r(1-r); "
               "dh_{t-1} = dh z + dq r + [dr dz] W_h[rz]")

    def extra_repr(self) -> str:
        return super().extra_repr() + ", reset_after=False"

    def forward(self, x, w_ih, w_hh, h0, *biases):
        b_ih, b_hh = biases if biases else (None, None)
        xp, acts, states = self.start(x, w_ih, w_hh, (h0,), b_ih)
        H = w_hh.shape[1]
        q = xp.empty(self.previous(states).shape, dtype=acts.dtype)      # (T, B, H)
        hg_rz = xp.empty((acts.shape[1], 2 * H), dtype=acts.dtype)
        hn = xp.empty((acts.shape[1], H), dtype=acts.dtype)
        w_t = transposed(w_hh, xp, *acts.shape[:2])
        w_rz, w_n = w_t[:, :2 * H], w_t[:, 2 * H:]
        for t in self.order(x.shape[0]):
            read, write = self.slots(t)
            xp.matmul(states[0, read], w_rz, out=hg_rz)
            if b_hh is not None:
                hg_rz += b_hh[:2 * H]
            gru_original_gates(acts[t], hg_rz, states[0, read], q[t])
            xp.matmul(q[t], w_n, out=hn)
            if b_hh is not None:
                hn += b_hh[2 * H:]
            gru_original_output(acts[t], hn, states[0, read], states[0, write])
        self.saved = (acts, q, states)
        return self.outputs(states)

    def backward(self, gy, y):
        _first_order_only(self.name)
        acts, q, states = self.saved
        w_hh = self.edges[2].data
        xp, (g,) = backend_for(acts).xp, parts_of(gy, 1)
        H = q.shape[-1]
        w_rz, w_n = w_hh[:2 * H], w_hh[2 * H:]
        dxg = xp.empty_like(acts)
        dh = None
        for t, carry in self.backward_steps(acts.shape[0]):
            read, _ = self.slots(t)
            h_prev = states[0, read]
            dh_t = _carry(g, t, dh, xp, h_prev)
            self.note_state_grads(t, dh_t)
            gru_original_backward(acts[t], h_prev, dh_t, dxg[t])
            dq = dxg[t, :, 2 * H:] @ w_n
            dh = xp.empty_like(dh_t)
            gru_original_backward_reset(acts[t], h_prev, dh_t, dq, dxg[t], dh)
            if carry:
                dh += dxg[t, :, :2 * H] @ w_rz

        def dw_hh(flat, previous):
            dw = xp.empty(w_hh.shape, dtype=flat.dtype)
            xp.matmul(flat[:, :2 * H].T, previous, out=dw[:2 * H])
            xp.matmul(flat[:, 2 * H:].T, q.reshape(previous.shape), out=dw[2 * H:])
            return dw
        return self.input_grads(dxg, dxg, (dh,), self.edges[4:], dw_hh)


# BPTT computes phi'(pre_t) for this many bytes of steps at a time (at least one step): rows
# still in cache when each step scales them, in few calls. At (32,32,128), against one pass
# over the whole sequence: misses of a simulated 2 MB cache 77.2 -> 72.0 thousand a training
# step (valgrind cachegrind), and the step 1.041 -> 1.023 and 1.072 -> 1.057 times the
# hand-written NumPy one (two in-process A/B runs, min of 400 interleaved steps)
DERIVATIVE_BYTES = 128 * 2**10


class RNNSweep(_Sweep):
    """The Elman RNN over a sequence, h_t = tanh or relu of pre_t. Backward needs only the
    states: d pre_t = dh_t (1 - h_t^2) (tanh) or dh_t [h_t > 0] (relu). So XG is not kept: its
    memory is free for the read-out and the loss after the layer, which would otherwise take
    fresh pages (bench/page_faults_charlm.py at (32, 32, 128): 486 -> 421 minor faults a step,
    1.58 -> 1.15 ms a step in the kernel), and BPTT writes d pre over dL/dy, the gradient of
    the outputs, when nothing else holds it (``accumulate.gradient_to_write_over``)."""
    __slots__ = ("relu",)
    name = "rnn sweep"
    formula = "BPTT: dpre_t = dh_t phi'(h_t); dh_{t-1} = dpre_t W_hh; dW_hh = dPRE^T H"

    def __init__(self, reverse: bool = False, label: str | None = None, relu: bool = False):
        super().__init__(reverse, label)
        self.relu = relu

    def forward(self, x, w_ih, w_hh, h0, *biases):
        bias = biases[0] + biases[1] if biases else None
        xp, pre, states = self.start(x, w_ih, w_hh, (h0,), bias)
        for step, read, write in self.steps_with_recurrence(xp, pre, states, w_hh):
            if self.relu:
                xp.maximum(step, 0, out=states[0, write])
            else:
                xp.tanh(step, out=states[0, write])
        self.saved = (states,)       # XG's memory goes back now, for the ops after the layer
        return self.outputs(states)

    def backward(self, gy, y):
        _first_order_only(self.name)
        (states,) = self.saved
        w_hh = self.edges[2].data
        h = self.outputs(states)[0]                  # h_t of every step, (T, B, H)
        xp = backend_for(states).xp
        # d pre goes over dL/dy itself when nothing else holds it (step t reads its row before
        # it writes there), as a hand-written BPTT writes over its own buffers; else new memory
        g = dpre = gradient_to_write_over(gy, h)
        if dpre is None:
            (g,) = parts_of(gy, 1)
            dpre = xp.empty(h.shape, dtype=h.dtype)
        # dh_t, where it is a sum: in d pre's own row when d pre is over dL/dy, else a buffer
        total = None if dpre is g else xp.empty(h.shape[1:], dtype=h.dtype)
        row = h[0]                                           # one step's (B, H), for shapes
        dh = None                                            # dL/dh_{t-1}, from step t
        steps = self.backward_steps(h.shape[0])
        block = max(1, DERIVATIVE_BYTES // row.nbytes)
        derivative = xp.empty((min(block, len(steps)),) + h.shape[1:], dtype=h.dtype)
        for k, (t, carry) in enumerate(steps):
            if k % block == 0:       # phi'(pre) of the next block of steps
                first, last = t, steps[min(k + block, len(steps)) - 1][0]
                low, high = min(first, last), max(first, last)
                rows, phi = slice(low, high + 1), derivative[:high - low + 1]
                if self.relu:
                    phi[...] = h[rows] > 0
                else:
                    xp.multiply(h[rows], h[rows], out=phi)
                    xp.subtract(1, phi, out=phi)
            dh_t = _carry(g, t, dh, xp, row, out=dpre[t] if total is None else total)
            self.note_state_grads(t, dh_t)
            xp.multiply(dh_t, derivative[t - low], out=dpre[t])
            # one buffer for every step's dh_{t-1} (dh_t is used up by now); the last is h_0's
            dh = xp.matmul(dpre[t], w_hh, out=dh) if carry else None
        return self.input_grads(dpre, dpre, (dh,), self.edges[4:])


# Forward mode (tg.forward_ad): a sweep has no JVP; the composed cells have.
_Sweep.forward_ad_hint = ("the fused recurrent sweeps have no JVP: build the layer with "
                          "fused=False for forward mode (tg.forward_ad, tg.func.jvp, jacfwd)")
