"""The GRU cell (Cho et al. 2014), in PyTorch/cuDNN's form and in the original one: the step
composed from core ops (``gru_step``, what ``GRUCell`` and ``GRU(fused=False)`` run) and
PyTorch's form's pointwise part on arrays, forward and backward (``gru_pointwise*``, what the
fused sweep ``fused.GRUSweep`` runs)."""
from __future__ import annotations

from tinygrad_rnn.nn import Module

from ._arrays import kernel_or_xp, sigmoid_, xp_of
from ._params import check_input, uniform_parameter, zeros_state


def gru_step(xg, h_prev, w_hh_t, bias_hh=None, reset_after: bool = True):
    """One GRU step from xg = W_ih x_t + b_ih (B, 3H), gates [r z n], and w_hh_t = W_hh^T
    (transposed once for all steps); returns h_t. The reset gate multiplies W_hn h_{t-1} + b_hn
    (``reset_after``, PyTorch's form) or h_{t-1} itself."""
    H = h_prev.shape[-1]
    xr, xz, xn = xg.chunk(3, dim=-1)
    w_rz, w_n = (w_hh_t, None) if reset_after else (w_hh_t[:, :2 * H], w_hh_t[:, 2 * H:])
    hg = h_prev @ w_rz
    b_rz, b_n = (bias_hh, None) if reset_after or bias_hh is None else (bias_hh[:2 * H],
                                                                         bias_hh[2 * H:])
    if b_rz is not None:
        hg = hg + b_rz
    hr, hz = hg[..., :H], hg[..., H:2 * H]
    r = (xr + hr).sigmoid().named("r_t")
    z = (xz + hz).sigmoid().named("z_t")
    if reset_after:
        n = (xn + r * hg[..., 2 * H:]).tanh().named("n_t")
    else:
        hn = (r * h_prev) @ w_n
        if b_n is not None:
            hn = hn + b_n
        n = (xn + hn).tanh().named("n_t")
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
        return gru_step(xg, h, self.weight_hh.mT, self.bias_hh, self.reset_after)

    def extra_repr(self) -> str:
        extra = "" if self.reset_after else ", reset_after=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"


# ----------------------------------------------------- PyTorch's form's step on arrays (fused)
def gru_pointwise(xg, hg, h_prev, h_out, hn_out) -> None:
    """``xg`` = W_i x + b_i and ``hg`` = W_h h_{t-1} + b_h, both (B, 3H) in [r z n] order: xg is
    replaced in place by [r z n], hn_out gets hg's n part (backward needs it) and
    h_out = (1 - z) n + z h_{t-1}."""
    kernel, xp = kernel_or_xp("gru_pointwise", xg)
    if kernel is not None:
        return kernel(xg, hg, h_prev, h_out, hn_out)
    H = h_prev.shape[-1]
    rz = xg[:, :2 * H]
    rz += hg[:, :2 * H]
    sigmoid_(xp, rz)
    r, z, n = xg[:, :H], xg[:, H:2 * H], xg[:, 2 * H:]
    hn_out[...] = hg[:, 2 * H:]
    n += r * hn_out
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h_out)            # h = n + z (h_{t-1} - n)
    h_out *= z
    h_out += n


def gru_pointwise_backward(acts, hn, h_prev, dh, dxg_out, dhn_out, dh_prev_out) -> None:
    """From the activations [r z n], hn = W_hn h_{t-1} + b_hn, h_{t-1} and dh = dL/dh_t:

        dn_pre = dh (1-z)(1-n^2),  dz_pre = dh (h_{t-1} - n) z(1-z),  dr_pre = dn_pre hn r(1-r)
        dxg_out = [dr_pre, dz_pre, dn_pre],  dhn_out = dn_pre r,  dh_prev_out = dh z

    (dh_prev_out is the direct path only; the caller adds the one through W_hh). ``dxg_out``
    may be ``acts`` itself: each column is read for the last time before its gradient is
    written there."""
    kernel, xp = kernel_or_xp("gru_pointwise_backward", acts)
    if kernel is not None:
        return kernel(acts, hn, h_prev, dh, dxg_out, dhn_out, dh_prev_out)
    H = h_prev.shape[-1]
    r, z, n = acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:]
    dr, dz, dn = dxg_out[:, :H], dxg_out[:, H:2 * H], dxg_out[:, 2 * H:]
    xp.multiply(dh, z, out=dh_prev_out)
    dh_not_z = dh * (1 - z)
    xp.multiply(dh * (h_prev - n), z * (1 - z), out=dz)
    xp.multiply(dh_not_z, 1 - n * n, out=dn)
    xp.multiply(dn, r, out=dhn_out)
    xp.multiply(dn * hn, r * (1 - r), out=dr)


# ------------------------------------------ the original form's step on arrays (fused), in two
# halves around the matmul W_hn (r * h_{t-1}) that the reset gate's output feeds
def gru_original_gates(xg, hg_rz, h_prev, q_out) -> None:
    """[r z] = sigma(xg_rz + hg_rz), written over xg's first 2H columns; q_out = r h_{t-1}."""
    xp = xp_of(xg)
    H = h_prev.shape[-1]
    rz = xg[:, :2 * H]
    rz += hg_rz
    sigmoid_(xp, rz)
    xp.multiply(xg[:, :H], h_prev, out=q_out)


def gru_original_output(xg, hn, h_prev, h_out) -> None:
    """n = tanh(xg_n + hn), hn = W_hn (r h_{t-1}) + b_hn, written over xg's last H columns;
    h_out = (1 - z) n + z h_{t-1}."""
    xp = xp_of(xg)
    H = h_prev.shape[-1]
    n = xg[:, 2 * H:]
    n += hn
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h_out)
    h_out *= xg[:, H:2 * H]
    h_out += n


def gru_original_backward(acts, h_prev, dh, dxg_out) -> None:
    """dz_pre = dh (h_{t-1} - n) z(1-z), dn_pre = dh (1-z)(1-n^2) into dxg_out's [z n] parts."""
    xp = xp_of(acts)
    H = h_prev.shape[-1]
    z, n = acts[:, H:2 * H], acts[:, 2 * H:]
    xp.multiply(dh * (h_prev - n), z * (1 - z), out=dxg_out[:, H:2 * H])
    xp.multiply(dh * (1 - z), 1 - n * n, out=dxg_out[:, 2 * H:])


def gru_original_backward_reset(acts, h_prev, dh, dq, dxg_out, dh_prev_out) -> None:
    """From dq = dL/d(r h_{t-1}) = dn_pre W_hn: dr_pre = dq h_{t-1} r(1-r) into dxg_out's r part,
    and the direct paths of dL/dh_{t-1}, dh z + dq r, into dh_prev_out."""
    xp = xp_of(acts)
    H = h_prev.shape[-1]
    r, z = acts[:, :H], acts[:, H:2 * H]
    xp.multiply(dq * h_prev, r * (1 - r), out=dxg_out[:, :H])
    xp.multiply(dh, z, out=dh_prev_out)
    dh_prev_out += dq * r
