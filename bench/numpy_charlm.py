"""The char-LM training step written by hand in NumPy: the baseline for bench_charlm.py.

One recurrent layer (LSTM, GRU or tanh RNN) over a one-hot (T, B, V) input, a linear read-out
to V logits, mean cross-entropy over all T*B positions, manual BPTT, plain SGD. Written the way
one would write it by hand for speed: float32 throughout, the input projection of all steps as
one GEMM before the loop, all gates of a step from one fused (B, H) @ (H, G*H) GEMM, the gate
activations computed in place, and the weight gradients as one GEMM over all steps after the
backward loop.
"""
from __future__ import annotations

import numpy as np


def _sigmoid_(x):
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class NumpyCharLM:
    """Parameters as in PyTorch's layers (weight_ih (G*H, V), weight_hh (G*H, H), two biases),
    plus the read-out (V, H) and its bias."""

    def __init__(self, cell: str, vocab: int, hidden: int, seed: int = 0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
        self.cell, self.V, self.H, self.G = cell, vocab, hidden, gates * hidden
        bound = 1.0 / np.sqrt(hidden)
        u = lambda *shape: rng.uniform(-bound, bound, shape).astype(dtype)  # noqa: E731
        self.params = {
            "weight_ih": u(self.G, vocab), "weight_hh": u(self.G, hidden),
            "bias_ih": u(self.G), "bias_hh": u(self.G),
            "out_weight": u(vocab, hidden), "out_bias": u(vocab),
        }

    def load(self, params: dict) -> None:
        for k, v in params.items():
            self.params[k][...] = v

    def step(self, x_onehot, targets, lr: float) -> float:
        """One forward + backward + SGD step; returns the loss."""
        forward = {"lstm": self._lstm, "gru": self._gru, "rnn": self._rnn}[self.cell]
        loss, grads = forward(x_onehot, targets)
        for k, g in grads.items():
            self.params[k] -= lr * g
        return loss

    # -- shared read-out: logits = h W_out^T + b, mean cross-entropy -----------------------
    def _readout(self, hs, targets):
        p = self.params
        T, B, H = hs.shape
        flat = hs.reshape(T * B, H)
        logits = flat @ p["out_weight"].T
        logits += p["out_bias"]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)            # softmax
        rows = np.arange(T * B)
        target = targets.reshape(-1)
        loss = float(-np.log(logits[rows, target]).mean())
        logits[rows, target] -= 1
        logits /= T * B                                        # dL/dlogits
        grads = {"out_weight": logits.T @ flat, "out_bias": logits.sum(axis=0)}
        dhs = (logits @ p["out_weight"]).reshape(T, B, H)
        return loss, grads, dhs

    def _project(self, x, bias):
        T, B, V = x.shape
        xg = x.reshape(T * B, V) @ self.params["weight_ih"].T
        xg += bias
        return xg.reshape(T, B, -1)

    def _input_grads(self, x, dxg, grads):
        T, B, V = x.shape
        flat = dxg.reshape(T * B, -1)
        grads["weight_ih"] = flat.T @ x.reshape(T * B, V)
        grads["bias_ih"] = flat.sum(axis=0)

    # -- LSTM ----------------------------------------------------------------------------
    def _lstm(self, x, targets):
        p, H = self.params, self.H
        T, B, _ = x.shape
        acts = self._project(x, p["bias_ih"] + p["bias_hh"])    # becomes the activations
        hs = np.zeros((T + 1, B, H), x.dtype)
        cs = np.zeros((T + 1, B, H), x.dtype)
        w_hh_t = p["weight_hh"].T
        for t in range(T):
            a = acts[t]
            a += hs[t] @ w_hh_t
            _sigmoid_(a[:, :2 * H])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            _sigmoid_(a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            c += i * g
            np.tanh(c, out=hs[t + 1])
            hs[t + 1] *= o
        loss, grads, dhs = self._readout(hs[1:], targets)

        dgates = np.empty_like(acts)
        dh_next = np.zeros((B, H), x.dtype)
        dc_next = np.zeros((B, H), x.dtype)
        w_hh = p["weight_hh"]
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dhs[t] + dh_next
            tc = np.tanh(cs[t + 1])
            d = dgates[t]
            np.multiply(dh * tc, o * (1 - o), out=d[:, 3 * H:])
            dc = dh * o
            dc *= 1 - tc * tc
            dc += dc_next
            np.multiply(dc * g, i * (1 - i), out=d[:, :H])
            np.multiply(dc * cs[t], f * (1 - f), out=d[:, H:2 * H])
            np.multiply(dc * i, 1 - g * g, out=d[:, 2 * H:3 * H])
            dc_next = dc * f
            dh_next = d @ w_hh
        flat = dgates.reshape(T * B, -1)
        grads["weight_hh"] = flat.T @ hs[:T].reshape(T * B, H)
        self._input_grads(x, dgates, grads)
        grads["bias_hh"] = grads["bias_ih"]
        return loss, grads

    # -- GRU -----------------------------------------------------------------------------
    def _gru(self, x, targets):
        p, H = self.params, self.H
        T, B, _ = x.shape
        acts = self._project(x, p["bias_ih"])                   # becomes [r z n]
        hs = np.zeros((T + 1, B, H), x.dtype)
        hns = np.empty((T, B, H), x.dtype)
        w_hh_t = p["weight_hh"].T
        for t in range(T):
            a = acts[t]
            hg = hs[t] @ w_hh_t
            hg += p["bias_hh"]
            a[:, :2 * H] += hg[:, :2 * H]
            _sigmoid_(a[:, :2 * H])
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            hns[t] = hg[:, 2 * H:]
            n += r * hns[t]
            np.tanh(n, out=n)
            np.subtract(hs[t], n, out=hs[t + 1])
            hs[t + 1] *= z
            hs[t + 1] += n
        loss, grads, dhs = self._readout(hs[1:], targets)

        dxg = np.empty_like(acts)
        dhg = np.empty_like(acts)
        dh_next = np.zeros((B, H), x.dtype)
        w_hh = p["weight_hh"]
        for t in range(T - 1, -1, -1):
            a = acts[t]
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            dh = dhs[t] + dh_next
            dn = dh * (1 - z)
            dn *= 1 - n * n
            d, e = dxg[t], dhg[t]
            np.multiply(dn * hns[t], r * (1 - r), out=d[:, :H])
            np.multiply(dh * (hs[t] - n), z * (1 - z), out=d[:, H:2 * H])
            d[:, 2 * H:] = dn
            e[:, :2 * H] = d[:, :2 * H]
            np.multiply(dn, r, out=e[:, 2 * H:])
            dh_next = dh * z
            dh_next += e @ w_hh
        flat = dhg.reshape(T * B, -1)
        grads["weight_hh"] = flat.T @ hs[:T].reshape(T * B, H)
        grads["bias_hh"] = flat.sum(axis=0)
        self._input_grads(x, dxg, grads)
        return loss, grads

    # -- tanh RNN ------------------------------------------------------------------------
    def _rnn(self, x, targets):
        p, H = self.params, self.H
        T, B, _ = x.shape
        pre = self._project(x, p["bias_ih"] + p["bias_hh"])
        hs = np.zeros((T + 1, B, H), x.dtype)
        w_hh_t = p["weight_hh"].T
        for t in range(T):
            a = pre[t]
            a += hs[t] @ w_hh_t
            np.tanh(a, out=hs[t + 1])
        loss, grads, dhs = self._readout(hs[1:], targets)

        dpre = pre                                              # reused: pre is not needed
        dh_next = np.zeros((B, H), x.dtype)
        w_hh = p["weight_hh"]
        for t in range(T - 1, -1, -1):
            dh = dhs[t] + dh_next
            h = hs[t + 1]
            np.multiply(dh, 1 - h * h, out=dpre[t])
            dh_next = dpre[t] @ w_hh
        flat = dpre.reshape(T * B, -1)
        grads["weight_hh"] = flat.T @ hs[:T].reshape(T * B, H)
        self._input_grads(x, dpre, grads)
        grads["bias_hh"] = grads["bias_ih"]
        return loss, grads
