"""An independent float64 NumPy re-derivation of the recurrent models' equations, for the
model tests: forward passes written straight from the equations (no tinygrad_rnn), and
gradients by central differences of those forward passes."""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _b(b, n):
    return np.zeros(n) if b is None else b


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    H = W_hh.shape[1]
    pre = x @ W_ih.T + _b(b_ih, H) + h @ W_hh.T + _b(b_hh, H)
    return np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih=None, b_hh=None):
    H = W_hh.shape[1]
    z = x @ W_ih.T + _b(b_ih, 4 * H) + h @ W_hh.T + _b(b_hh, 4 * H)
    i, f, g, o = sigmoid(z[..., :H]), sigmoid(z[..., H:2 * H]), np.tanh(z[..., 2 * H:3 * H]), \
        sigmoid(z[..., 3 * H:])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def gru_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, reset_after=True):
    H = W_hh.shape[1]
    b_ih, b_hh = _b(b_ih, 3 * H), _b(b_hh, 3 * H)
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    r = sigmoid(x @ W_ir.T + b_ih[:H] + h @ W_hr.T + b_hh[:H])
    z = sigmoid(x @ W_iz.T + b_ih[H:2 * H] + h @ W_hz.T + b_hh[H:2 * H])
    if reset_after:
        n = np.tanh(x @ W_in.T + b_ih[2 * H:] + r * (h @ W_hn.T + b_hh[2 * H:]))
    else:
        n = np.tanh(x @ W_in.T + b_ih[2 * H:] + (r * h) @ W_hn.T + b_hh[2 * H:])
    return (1 - z) * n + z * h


def mut_cell(kind, x, h, W_ih, W_hh, bias):
    """Jozefowicz et al. (2015), with the layouts documented in models/mut_cells.py."""
    H = W_hh.shape[1]
    b_z, b_r, b_h = bias[:H], bias[H:2 * H], bias[2 * H:]
    blocks = lambda W: [W[k * H:(k + 1) * H] for k in range(W.shape[0] // H)]  # noqa: E731
    if kind == 1:
        W_xz, W_xr = blocks(W_ih)
        W_hr, W_hh_ = blocks(W_hh)
        z = sigmoid(x @ W_xz.T + b_z)
        r = sigmoid(x @ W_xr.T + h @ W_hr.T + b_r)
        return np.tanh((r * h) @ W_hh_.T + np.tanh(x) + b_h) * z + h * (1 - z)
    if kind == 2:
        W_xz, W_xh = blocks(W_ih)
        W_hz, W_hr, W_hh_ = blocks(W_hh)
        z = sigmoid(x @ W_xz.T + h @ W_hz.T + b_z)
        r = sigmoid(x + h @ W_hr.T + b_r)
        return np.tanh((r * h) @ W_hh_.T + x @ W_xh.T + b_h) * z + h * (1 - z)
    W_xz, W_xr, W_xh = blocks(W_ih)
    W_hz, W_hr, W_hh_ = blocks(W_hh)
    z = sigmoid(x @ W_xz.T + np.tanh(h) @ W_hz.T + b_z)
    r = sigmoid(x @ W_xr.T + h @ W_hr.T + b_r)
    return np.tanh((r * h) @ W_hh_.T + x @ W_xh.T + b_h) * z + h * (1 - z)


def highway(x, layers, activation="relu"):
    """layers: [(W_H, b_H, W_T, b_T), ...]; y = H(x) T(x) + x (1 - T(x)) per layer."""
    for W_H, b_H, W_T, b_T in layers:
        h = x @ W_H.T + b_H
        h = np.maximum(h, 0.0) if activation == "relu" else np.tanh(h)
        t = sigmoid(x @ W_T.T + b_T)
        x = h * t + x * (1 - t)
    return x


def layer_forward(kind, x, params, num_layers, bidirectional, h0=None, c0=None,
                  nonlinearity="tanh"):
    """A multi-layer (bi)directional RNN/LSTM/GRU over x (T, B, I), PyTorch's parameter names
    in ``params``; returns (output (T, B, D*H), h_n, c_n or None)."""
    D = 2 if bidirectional else 1
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    h0 = np.zeros((num_layers * D, B, H)) if h0 is None else h0
    c0 = np.zeros((num_layers * D, B, H)) if c0 is None else c0
    layer_input, h_n, c_n = x, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = [params["weight_ih" + sfx], params["weight_hh" + sfx],
                 params.get("bias_ih" + sfx), params.get("bias_hh" + sfx)]
            h, c = h0[layer * D + d], c0[layer * D + d]
            ys = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                if kind == "lstm":
                    h, c = lstm_cell(layer_input[t], h, c, *p)
                elif kind == "gru":
                    h = gru_cell(layer_input[t], h, *p)
                else:
                    h = rnn_cell(layer_input[t], h, *p, nonlinearity=nonlinearity)
                ys[t] = h
            outs.append(np.stack(ys))
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outs, axis=-1)
    return layer_input, np.stack(h_n), (np.stack(c_n) if kind == "lstm" else None)


def numeric_gradients(loss, arrays, eps: float = 1e-6) -> list:
    """d loss() / d array for each array (central differences; arrays perturbed in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + eps
            plus = loss()
            flat[j] = saved - eps
            minus = loss()
            flat[j] = saved
            gflat[j] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads
