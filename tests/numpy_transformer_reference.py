"""The Transformer's blocks re-derived in float64 NumPy from a state dict (torch.nn's names), for
the tests of the decoder layer, the encoder-decoder Transformer, GPT and BERT. Inputs are batch
first (B, T, E); a mask is a boolean array broadcastable to (B, heads, L, S), True where the
query may attend the key."""
import math

import numpy as np


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu(x):
    """x Phi(x), exactly (torch's default)."""
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "gelu": gelu}


def multi_head(sd, prefix, q, k, v, heads, allowed=None):
    """softmax(Q K^T / sqrt(d) masked) V per head, concatenated, times W^O: (B, L, E) and the
    weights (B, heads, L, S)."""
    E = q.shape[-1]
    W, b = sd[prefix + "in_proj_weight"], sd[prefix + "in_proj_bias"]

    def split(x, i):
        y = x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E]
        return y.reshape(y.shape[0], y.shape[1], heads, E // heads).transpose(0, 2, 1, 3)

    Q, K, V = split(q, 0), split(k, 1), split(v, 2)
    scores = Q @ K.transpose(0, 1, 3, 2) / math.sqrt(E // heads)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    a = softmax(scores)
    out = (a @ V).transpose(0, 2, 1, 3).reshape(q.shape)
    return out @ sd[prefix + "out_proj.weight"].T + sd[prefix + "out_proj.bias"], a


def feed_forward(sd, prefix, x, activation="relu"):
    h = ACTIVATIONS[activation](x @ sd[prefix + "linear1.weight"].T + sd[prefix + "linear1.bias"])
    return h @ sd[prefix + "linear2.weight"].T + sd[prefix + "linear2.bias"]


def _norm(sd, name, x, eps=1e-5):
    return layer_norm(x, sd[name + ".weight"], sd[name + ".bias"], eps)


def encoder_layer(sd, prefix, x, heads, norm_first=False, allowed=None, activation="relu",
                  eps=1e-5):
    p = prefix

    def sa(y):
        return multi_head(sd, p + "self_attn.", y, y, y, heads, allowed)

    if norm_first:
        out, a = sa(_norm(sd, p + "norm1", x, eps))
        x = x + out
        return x + feed_forward(sd, p, _norm(sd, p + "norm2", x, eps), activation), a
    out, a = sa(x)
    x = _norm(sd, p + "norm1", x + out, eps)
    return _norm(sd, p + "norm2", x + feed_forward(sd, p, x, activation), eps), a


def decoder_layer(sd, prefix, x, memory, heads, norm_first=False, self_allowed=None,
                  cross_allowed=None, activation="relu"):
    p = prefix

    def sa(y):
        return multi_head(sd, p + "self_attn.", y, y, y, heads, self_allowed)[0]

    def ca(y):
        return multi_head(sd, p + "multihead_attn.", y, memory, memory, heads, cross_allowed)[0]

    if norm_first:
        x = x + sa(_norm(sd, p + "norm1", x))
        x = x + ca(_norm(sd, p + "norm2", x))
        return x + feed_forward(sd, p, _norm(sd, p + "norm3", x), activation)
    x = _norm(sd, p + "norm1", x + sa(x))
    x = _norm(sd, p + "norm2", x + ca(x))
    return _norm(sd, p + "norm3", x + feed_forward(sd, p, x, activation))


def causal(length):
    return np.tril(np.ones((length, length), dtype=bool))


def randomise(module, rng):
    """Load random values into every parameter (LayerNorm gains around 1), so that a swapped
    or misnamed parameter cannot pass unnoticed; returns the module."""
    def draw(name, shape):
        noise = rng.standard_normal(shape) * (0.5 if len(shape) > 1 else 0.3)
        return 1.0 + noise if "norm" in name and name.endswith("weight") else noise
    module.load_state_dict({k: draw(k, v.shape) for k, v in module.state_dict().items()})
    return module
