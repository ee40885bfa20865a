"""Fused recurrent steps: one tape entry per time step, with a hand-derived VJP.

A composed LSTM step is ~17 tape entries (a matmul, an add, four slices, three sigmoids, two
tanh, products and sums); ``LSTMStep`` is one. Its forward takes the step's slice of the
*hoisted* input projection XG = X W_ih^T (computed for all T steps by one matmul before the
time loop), adds h_{t-1} W_hh^T and the biases, and runs the pointwise part (``backend.lstm_pointwise``: the
gate nonlinearities and the state update in one pass, one ``cupy.ElementwiseKernel`` on the GPU).

Conventions shared by the steps of one sweep (one layer, one direction), held in a ``Run``:

* the states live in one preallocated array ``states`` (K, T+1, B, H), K = 2 for the LSTM
  (h and c) and 1 otherwise; step t's output S_t is a view of its slot, so the outputs of the
  whole sweep are one contiguous (T, B, H) view (``CollectOutputs``) and so are the h_{t-1}
  every step read (for the weight gradient below);
* the LSTM and GRU steps overwrite their slice of XG with the gate activations (backward needs
  those, not the pre-activations; XG is private to the layer and nothing else reads it), so the
  fused sweep stores one (T, B, G) array where the composed one keeps a dozen per step;
* **weight gradients in one matmul.** Backward visits the steps last to first. Each step writes
  dL/d(gate pre-activations) into its slot of one (T, B, G) buffer and returns no gradient for
  XG or W_hh; the sweep's *first* step (the last one backward visits: every later step depends
  on it through the state) returns the whole buffer as XG's gradient, and
  dW_hh = sum_t dG_t^T h_{t-1} as a single (G, T*B) @ (T*B, H) product. XG's own VJP (a matmul)
  then gives dW_ih and dX with one matmul each. The engine's sums of T per-step weight
  gradients disappear. (The tape observer therefore sees W_hh's gradient arrive at the first
  step, as the sum over all steps.)

First-order only: the VJPs are written on arrays (so that on CuPy each is one elementwise
kernel), not in Tensor ops, and the activations overwrite XG, so a backward with
``create_graph=True`` through a fused step raises; the composed path (``fused=False``) is the
reference for double backward, and gives the same first-order gradients (tested).

Two more entries serve the composed path (``fused=False``), with the same shared-buffer idea
and a differentiable VJP under ``create_graph``:

* ``TimeSlice``: XG[t] as one tape entry whose backward writes into one shared buffer, so
  slicing T steps out of XG costs O(T) in backward rather than O(T^2) (each plain slice's
  gradient would be a zero-filled copy of all of XG);
* ``RecurrentMatMul``: h_{t-1} W_hh^T, whose dW_hh is one matmul over all steps instead of T
  small products the engine adds one by one (4 MB each for an LSTM of width 512).
"""
from __future__ import annotations

from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.errors import BackwardError
from tinygrad_rnn.function import Function, needs_grad
from tinygrad_rnn.ops.shape import IndexAdd
from tinygrad_rnn.state import STATE
from tinygrad_rnn.tensor import Tensor


class Run:
    """What the steps of one sweep share: the state array, the gradient buffers, the step that
    finishes backward (``first``), and the direction (``reverse`` runs t = T-1 down to 0)."""
    __slots__ = ("length", "reverse", "states", "scratch", "saved", "grad", "grad_n", "first",
                 "written", "backend", "xp")

    def __init__(self, length: int, batch: int, hidden: int, kinds: int, gates: int,
                 reverse: bool, like, initial, dtype, save_n: bool = False):
        self.backend = backend_for(like)
        xp = self.xp = self.backend.xp
        self.length, self.reverse = length, reverse
        self.states = xp.empty((kinds, length + 1, batch, hidden), dtype=dtype)
        self.states[:, self.in_slot(length - 1 if reverse else 0)] = initial
        self.scratch = xp.empty((batch, gates), dtype=dtype)
        self.saved = xp.empty((length, batch, hidden), dtype=dtype) if save_n else None
        self.grad = self.grad_n = self.first = self.written = None

    def in_slot(self, t: int) -> int:
        """The slot of the state step t reads (h_{t-1}; h_{t+1} when running backwards)."""
        return t + 1 if self.reverse else t

    def out_slot(self, t: int) -> int:
        return t if self.reverse else t + 1

    def previous(self):
        """(T, B, H): the h each time step read, in time order (contiguous)."""
        h = self.states[0]
        return h[1:] if self.reverse else h[:-1]

    def outputs(self):
        """(T, B, H): h_t for every t, in time order (contiguous)."""
        h = self.states[0]
        return h[:-1] if self.reverse else h[1:]

    def grad_slot(self, t: int, like):
        """Step t's slot of the (T, B, G) buffer of gate gradients (zeros until written)."""
        if self.grad is None:
            self.grad = self.xp.zeros((self.length,) + like.shape, dtype=like.dtype)
        return self.grad[t]

    def reused_grad_slot(self, t: int, buffer):
        """Step t's gradient slot inside ``buffer`` itself (XG, when backward never reads it):
        no new (T, B, G) array. Slots no step writes are zeroed when the buffer is handed over."""
        if self.grad is None:
            self.grad, self.written = buffer, [False] * self.length
        self.written[t] = True
        return self.grad[t]

    def grad_n_slot(self, t: int, like):
        if self.grad_n is None:
            self.grad_n = self.xp.zeros((self.length,) + like.shape, dtype=like.dtype)
        return self.grad_n[t]

    def take_grads(self):
        """The filled buffers, handed over once per backward pass (then reset)."""
        grad, grad_n = self.grad, self.grad_n
        if self.written is not None:
            for t, written in enumerate(self.written):
                if not written:
                    grad[t] = 0
        self.grad = self.grad_n = self.written = None
        return grad, grad_n


def _first_order_only(name: str) -> None:
    if STATE.grad_enabled:
        raise BackwardError(
            f"{name}: fused recurrent steps give first-order gradients only, and this backward "
            "has create_graph=True; build the layer with fused=False (the composed cell, whose "
            "backward is itself differentiable) to take gradients of gradients")


class _Step(Function):
    """Inputs (XG, S_{t-1}, W_hh, biases) -> S_t; see the module docstring. The biases are
    added per step rather than to XG, so XG is the projection's own output (one (T, B, G)
    array, not two), and db = sum over t of dG_t comes with dW_hh at the end."""
    __slots__ = ("run", "t")
    uses_output = True

    def __init__(self, run: Run, t: int):
        self.run, self.t = run, t

    def extra_repr(self) -> str:
        return f"t={self.t}"

    def _recurrent(self, h_prev, w_hh, b=None):
        """scratch <- h_{t-1} W_hh^T (+ b), without allocating."""
        out = self.run.xp.matmul(h_prev, w_hh.T, out=self.run.scratch)
        if b is not None:
            out += b
        return out

    def _finish(self, xg, w, b, grads: list) -> None:
        """At the sweep's first step (the last one backward visits): XG's gradient is the whole
        buffer, dW_hh = sum_t dG_t^T h_{t-1} is one matmul over all steps, db = sum of dG."""
        run = self.run
        dG, _ = run.take_grads()
        if dG is None:
            return
        G, H = dG.shape[-1], run.states.shape[-1]
        flat = dG.reshape(-1, G)
        if needs_grad(xg):
            grads[0] = Tensor._make(dG)
        if needs_grad(w):
            grads[2] = Tensor._make(flat.T @ run.previous().reshape(-1, H))
        if needs_grad(b):
            grads[3] = Tensor._make(flat.sum(axis=0))


class LSTMStep(_Step):
    """One LSTM step, fused. Inputs (XG, S_{t-1}, W_hh, b), b = b_ih + b_hh (or None); with
    pre = XG[t] + W_hh h_{t-1} + b split as [i f g o]:

        i, f, o = sigma(.), g = tanh(.),  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).

    S_t = (h_t, c_t) stacked, shape (2, B, H). VJP, from dh = dL/dh_t and dc = dL/dc_t:

        dc_t = dc + dh o (1 - tanh^2 c_t)         dc_{t-1} = dc_t f
        d pre = [dc_t g i(1-i),  dc_t c_{t-1} f(1-f),  dc_t i (1-g^2),  dh tanh(c_t) o(1-o)]
        dh_{t-1} = d pre W_hh,   dW_hh += d pre^T h_{t-1},   dXG[t] = db += d pre
    """
    __slots__ = ()
    name = "lstm_step"
    formula = "dpre = lstm_gate_grads(dh, dc); dh_prev = dpre @ W_hh; dc_prev = dc_t * f"

    def forward(self, xg, s_prev, w_hh, b):
        run = self.run
        gates = xg[self.t]
        gates += self._recurrent(s_prev[0], w_hh, b)
        out = run.states[:, run.out_slot(self.t)]
        run.backend.lstm_pointwise(gates, s_prev[1], out[0], out[1])
        return out

    def backward(self, gy, y):
        _first_order_only(self.name)
        xg, s_prev, w, b = self.inputs
        run, xp = self.run, self.run.xp
        g = gy.data
        acts = xg.data[self.t]
        keep = needs_grad(xg) or needs_grad(w) or needs_grad(b)
        dgates = run.grad_slot(self.t, acts) if keep else xp.empty_like(acts)
        ds = xp.empty(s_prev.shape, dtype=acts.dtype) if needs_grad(s_prev) else None
        dc_prev = ds[1] if ds is not None else xp.empty_like(g[1])
        run.backend.lstm_pointwise_backward(acts, s_prev.data[1], y.data[1], g[0], g[1],
                                            dgates, dc_prev)
        if ds is not None:
            xp.matmul(dgates, w.data, out=ds[0])
        grads = [None, None if ds is None else Tensor._make(ds), None, None]
        if self is run.first:
            self._finish(xg, w, b, grads)
        return grads


class RNNStep(_Step):
    """One Elman step, fused: h_t = phi(XG[t] + W_hh h_{t-1} + b), phi = tanh or relu.
    VJP: d pre = dh (1 - h_t^2) (tanh) or dh [h_t > 0] (relu); dh_{t-1} = d pre W_hh.
    Backward needs only h_t, so d pre is written over XG[t] (as a hand-written BPTT reuses
    its pre-activation buffer): the sweep's gradient buffer costs no memory."""
    __slots__ = ("relu",)
    name = "rnn_step"
    formula = "dpre = dh * phi'(pre); dh_prev = dpre @ W_hh"

    def __init__(self, run: Run, t: int, relu: bool = False):
        super().__init__(run, t)
        self.relu = relu

    def forward(self, xg, s_prev, w_hh, b):
        run = self.run
        pre = self._recurrent(s_prev[0], w_hh, b)
        pre += xg[self.t]
        out = run.states[:, run.out_slot(self.t)]
        if self.relu:
            run.xp.maximum(pre, 0, out=out[0])
        else:
            run.xp.tanh(pre, out=out[0])
        return out

    def backward(self, gy, y):
        _first_order_only(self.name)
        xg, s_prev, w, b = self.inputs
        run, xp = self.run, self.run.xp
        dh, h = gy.data[0], y.data[0]
        keep = needs_grad(xg) or needs_grad(w) or needs_grad(b)
        # backward never reads XG (h_t is enough), so d pre overwrites XG[t] in place
        dpre = run.reused_grad_slot(self.t, xg.data) if keep else xp.empty_like(h)
        if self.relu:
            xp.multiply(dh, h > 0, out=dpre)
        else:
            xp.multiply(h, h, out=dpre)
            xp.subtract(1, dpre, out=dpre)
            dpre *= dh
        ds = None
        if needs_grad(s_prev):
            ds = xp.empty(s_prev.shape, dtype=dpre.dtype)
            xp.matmul(dpre, w.data, out=ds[0])
        grads = [None, None if ds is None else Tensor._make(ds), None, None]
        if self is run.first:
            self._finish(xg, w, b, grads)
        return grads


class GRUStep(_Step):
    """One GRU step (PyTorch's reset-after form), fused. Inputs (XG, S_{t-1}, W_hh, b_ih, b_hh);
    with xg = XG[t] + b_ih = W_ih x_t + b_ih and hg = W_hh h_{t-1} + b_hh, both [r z n]:

        r = sigma(xg_r + hg_r),  z = sigma(xg_z + hg_z),  n = tanh(xg_n + r hg_n),
        h_t = (1 - z) n + z h_{t-1}.

    VJP, from dh: dn_pre = dh (1-z)(1-n^2), dz_pre = dh (h_{t-1} - n) z(1-z),
    dr_pre = dn_pre hg_n r(1-r); dXG[t] = db_ih += [dr_pre, dz_pre, dn_pre],
    dhg = [dr_pre, dz_pre, dn_pre r], dh_{t-1} = dh z + dhg W_hh, dW_hh += dhg^T h_{t-1},
    db_hh += dhg. hg_n is kept per step (``Run.saved``); r, z, n overwrite XG[t].
    """
    __slots__ = ()
    name = "gru_step"
    formula = "dxg, dhg = gru_gate_grads(dh); dh_prev = dh * z + dhg @ W_hh"

    def forward(self, xg, s_prev, w_hh, b_ih, b_hh):
        run = self.run
        hg = self._recurrent(s_prev[0], w_hh, b_hh)
        xg_t = xg[self.t]
        if b_ih is not None:
            xg_t += b_ih
        out = run.states[:, run.out_slot(self.t)]
        run.backend.gru_pointwise(xg_t, hg, s_prev[0], out[0], run.saved[self.t])
        return out

    def backward(self, gy, y):
        _first_order_only(self.name)
        xg, s_prev, w, b_ih, b_hh = self.inputs
        run, xp = self.run, self.run.xp
        dh = gy.data[0]
        acts = xg.data[self.t]
        H = dh.shape[-1]
        keep = any(needs_grad(v) for v in (xg, w, b_ih, b_hh))
        dxg = run.grad_slot(self.t, acts) if keep else xp.empty_like(acts)
        dhn = run.grad_n_slot(self.t, dh) if keep else xp.empty_like(dh)
        ds = xp.empty(s_prev.shape, dtype=acts.dtype) if needs_grad(s_prev) else None
        dh_prev = ds[0] if ds is not None else xp.empty_like(dh)
        run.backend.gru_pointwise_backward(acts, run.saved[self.t], s_prev.data[0], dh,
                                           dxg, dhn, dh_prev)
        if ds is not None:
            dhg = run.scratch                      # [dr_pre, dz_pre, dn_pre * r]: one matmul
            dhg[:, :2 * H] = dxg[:, :2 * H]
            dhg[:, 2 * H:] = dhn
            dh_prev += dhg @ w.data
        grads = [None, None if ds is None else Tensor._make(ds), None, None, None]
        if self is run.first:
            dXG, dHN = run.take_grads()
            if dXG is not None:
                if needs_grad(xg):
                    grads[0] = Tensor._make(dXG)
                if needs_grad(b_ih):
                    grads[3] = Tensor._make(dXG.reshape(-1, 3 * H).sum(axis=0))
                flat_rz = dXG.reshape(-1, 3 * H)[:, :2 * H]
                flat_n = dHN.reshape(-1, H)
                if needs_grad(w):
                    prev = run.previous().reshape(-1, H)
                    dW = xp.empty(w.shape, dtype=dXG.dtype)
                    xp.matmul(flat_rz.T, prev, out=dW[:2 * H])
                    xp.matmul(flat_n.T, prev, out=dW[2 * H:])
                    grads[2] = Tensor._make(dW)
                if needs_grad(b_hh):
                    grads[4] = Tensor._make(xp.concatenate([flat_rz.sum(axis=0),
                                                            flat_n.sum(axis=0)]))
        return grads


class CollectOutputs(Function):
    """y = (h_0, ..., h_{T-1}) along a new time axis: the sweep's outputs, a view of its state
    array (no copy). Inputs: the steps' S_t in time order. g_{S_t} = (gy[t], 0 for c)."""
    __slots__ = ("run",)
    name, formula, saves_inputs = "collect_h", "g_S_t = [gy[t], 0]", False

    def __init__(self, run: Run):
        self.run = run

    def forward(self, *states):
        return self.run.outputs()

    def backward(self, gy, y):
        g = gy.data
        xp = self.run.xp
        grads = []
        for t, s in enumerate(self.inputs):
            if s.shape[0] == 1:
                grads.append(Tensor._make(g[t][None]))
            else:
                d = xp.zeros(s.shape, dtype=g.dtype)
                d[0] = g[t]
                grads.append(Tensor._make(d))
        return grads


class Slices:
    """Shared by the TimeSlice entries cut from one tensor: the gradient buffer and the first
    entry (the last one backward visits), which hands the buffer over."""
    __slots__ = ("grad", "first")

    def __init__(self):
        self.grad = self.first = None


class TimeSlice(Function):
    """y = x[t] (x of shape (T, ...)).   gx = zeros with gy at [t]; the T slices of one x share
    one zero-filled buffer (first-order), or each returns its own (create_graph, differentiable)."""
    __slots__ = ("slices", "t")
    name, formula, saves_inputs = "time_slice", "gx[t] = gy", False

    def __init__(self, slices: Slices, t: int):
        self.slices, self.t = slices, t

    def extra_repr(self) -> str:
        return f"t={self.t}"

    def forward(self, x):
        return x[self.t]

    def backward(self, gy, y):
        x = self.inputs[0]
        if STATE.grad_enabled:                       # create_graph: a differentiable VJP
            return (IndexAdd((self.t,), x.shape).apply(gy),)
        shared = self.slices
        if shared.grad is None:
            shared.grad = backend_for(gy.data).xp.zeros(x.shape, dtype=gy.dtype)
        shared.grad[self.t] = gy.data
        if self is shared.first:
            grad, shared.grad = shared.grad, None
            return (Tensor._make(grad),)
        return (None,)


class Products:
    """Shared by the RecurrentMatMul entries of one sweep: their gradients and inputs, kept for
    one matmul at the end, and the first entry (the last one backward visits)."""
    __slots__ = ("grads", "inputs", "first", "length", "scratch")

    def __init__(self, length: int):
        self.length = length
        self.grads = self.inputs = self.first = self.scratch = None

    def product(self, h, w):
        """h W^T into a buffer reused by every step (no allocation)."""
        xp = backend_for(h).xp
        shape = h.shape[:-1] + (w.shape[0],)
        dtype = xp.result_type(h, w)
        if self.scratch is None or self.scratch.shape != shape or self.scratch.dtype != dtype:
            self.scratch = xp.empty(shape, dtype=dtype)
        return xp.matmul(h, w.T, out=self.scratch)

    def store(self, t: int, gy, h) -> None:
        xp = backend_for(gy).xp
        if self.grads is None:           # zeros: a step backward never visits adds nothing
            self.grads = xp.zeros((self.length,) + gy.shape, dtype=gy.dtype)
            self.inputs = xp.zeros((self.length,) + h.shape, dtype=h.dtype)
        self.grads[t] = gy
        self.inputs[t] = h

    def take_weight_grad(self):
        """dW = sum_t gy_t^T h_t, one (G, T*B) @ (T*B, H) product; the buffers are then reset."""
        grads, inputs = self.grads, self.inputs
        self.grads = self.inputs = None
        return grads.reshape(-1, grads.shape[-1]).T @ inputs.reshape(-1, inputs.shape[-1])


class RecurrentMatMul(Function):
    """y = h W^T for one step of a sweep (h (B, H) the previous state, W (G, H) = W_hh).

    gh = gy W (returned at once: the recurrence needs it). gW = gy^T h summed over the steps:
    first-order, each step stores gy and h and the sweep's first step returns the sum as one
    matmul over all steps (what the fused steps do), instead of T small products added one by
    one; with create_graph, each step returns its own gy^T h (differentiable)."""
    __slots__ = ("products", "t")
    name, formula = "recurrent_matmul", "gh = gy @ W; gW = sum_t gy_t^T h_t (one matmul)"

    def __init__(self, products: Products, t: int):
        self.products, self.t = products, t

    def extra_repr(self) -> str:
        return f"t={self.t}"

    def forward(self, h, w):
        return h @ w.T

    def backward(self, gy, y):
        h, w = self.inputs
        grad_h = gy @ w if needs_grad(h) else None
        if not needs_grad(w):
            return grad_h, None
        if STATE.grad_enabled:                       # create_graph: a differentiable VJP
            return grad_h, gy.mT @ h
        shared = self.products
        shared.store(self.t, gy.data, h.data)
        if self is shared.first:
            return grad_h, Tensor._make(shared.take_weight_grad())
        return grad_h, None


class RecurrentAffine(Function):
    """pre_t = XG[t] + h_{t-1} W^T for one step of a composed LSTM / RNN sweep, written over
    XG[t] (XG is private to the layer and no backward reads it), so a step allocates nothing
    for its pre-activations.

    g_XG = gy at [t], gh = gy W, gW = sum_t gy_t^T h_{t-1}: first-order, the steps store gy
    and h_{t-1} in one buffer each and the sweep's first step hands over XG's whole gradient
    and dW as one matmul; with create_graph each step returns its own (differentiable) VJP."""
    __slots__ = ("products", "t")
    name, formula = "recurrent_affine", "gXG[t] = gy; gh = gy @ W; gW = sum_t gy_t^T h_t"

    def __init__(self, products: Products, t: int):
        self.products, self.t = products, t

    def extra_repr(self) -> str:
        return f"t={self.t}"

    def forward(self, xg, h, w):
        pre = xg[self.t]
        pre += self.products.product(h, w)
        return pre

    def backward(self, gy, y):
        xg, h, w = self.inputs
        grad_h = gy @ w if needs_grad(h) else None
        if STATE.grad_enabled:                       # create_graph: a differentiable VJP
            return (IndexAdd((self.t,), xg.shape).apply(gy) if needs_grad(xg) else None,
                    grad_h, gy.mT @ h if needs_grad(w) else None)
        if not (needs_grad(xg) or needs_grad(w)):
            return None, grad_h, None
        shared = self.products
        shared.store(self.t, gy.data, h.data)
        if self is not shared.first:
            return None, grad_h, None
        grad_xg = Tensor._make(shared.grads) if needs_grad(xg) else None
        grad_w = Tensor._make(shared.take_weight_grad())
        return grad_xg, grad_h, grad_w if needs_grad(w) else None


# Forward mode (tg.forward_ad): the fused kernels have no JVP; the composed cells have.
for _kernel in (_Step, CollectOutputs):
    _kernel.forward_ad_hint = ("the fused recurrent kernels have no JVP: build the layer with "
                               "fused=False for forward mode (tg.forward_ad, tg.func.jvp, jacfwd)")
