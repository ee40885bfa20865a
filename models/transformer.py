"""The Transformer encoder layer (Vaswani et al. 2017) and sinusoidal positional encodings."""
from __future__ import annotations

import math

from tinygrad_rnn import functional as F
from tinygrad_rnn.backends import backend_for_device
from tinygrad_rnn.device import target_device
from tinygrad_rnn.nn import Dropout, LayerNorm, Linear, Module
from tinygrad_rnn.tensor import Tensor

from .multihead import MultiHeadAttention


def sinusoidal_positional_encoding(length: int, d_model: int, dtype="float32", device=None):
    """(length, d_model):  PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(same).
    Each dimension is a sinusoid of its own wavelength (2 pi to 10000 * 2 pi), so PE[pos + k]
    is a linear function of PE[pos] for every offset k."""
    device = target_device(None, device)
    backend = backend_for_device(device)
    xp = backend.xp
    position = xp.arange(length, dtype=xp.float64)[:, None]
    frequency = xp.exp(xp.arange(0, d_model, 2, dtype=xp.float64) * (-math.log(10000.0) / d_model))
    table = xp.zeros((length, d_model), dtype=xp.float64)
    table[:, 0::2] = xp.sin(position * frequency)
    table[:, 1::2] = xp.cos(position * frequency[: d_model // 2])
    return Tensor(table, dtype=dtype, device=device)


class PositionalEncoding(Module):
    """x + PE[:T] (then dropout), for x (T, B, d) or (B, T, d) with ``batch_first``. The table is
    a buffer ``pe`` (max_len, d_model)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = False, device=None, dtype="float32"):
        super().__init__()
        self.batch_first, self.max_len = batch_first, max_len
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model, dtype, device))
        self.dropout = Dropout(dropout)

    def forward(self, x):
        T = x.shape[1] if self.batch_first else x.shape[0]
        if T > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence of length {T} is longer than "
                             f"max_len={self.max_len}")
        pe = self.pe[:T]
        pe = pe.unsqueeze(0) if self.batch_first else pe.unsqueeze(1)
        return self.dropout(x + pe)


def activate(h, activation):
    """The feed-forward non-linearity: "relu", "gelu" (the exact erf form, as torch), or a
    callable (torch.nn's layers accept one too)."""
    if callable(activation):
        return activation(h)
    return h.relu() if activation == "relu" else F.gelu(h)


def check_activation(owner: str, activation) -> None:
    if not callable(activation) and activation not in ("relu", "gelu"):
        raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a callable, "
                         f"got {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention and a position-wise feed-forward block, each with a residual connection
    and layer normalisation; FF(x) = W_2 dropout(act(W_1 x + b_1)) + b_2.

        post-norm (norm_first=False, the original):   x = LN_1(x + drop(SA(x)))
                                                      x = LN_2(x + drop(FF(x)))
        pre-norm  (norm_first=True):                  x = x + drop(SA(LN_1(x)))
                                                      x = x + drop(FF(LN_2(x)))

    Sub-modules named as torch.nn.TransformerEncoderLayer's (self_attn, linear1, linear2, norm1,
    norm2, dropout, dropout1, dropout2), so its state dict loads unchanged. ``forward(src,
    src_mask=None, src_key_padding_mask=None, is_causal=False, need_weights=False)`` returns the
    output, or (output, attention weights (B, L, L)) with need_weights=True ((B, nhead, L, L)
    with average_attn_weights=False too).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, device=None, dtype=None):
        super().__init__()
        check_activation("TransformerEncoderLayer", activation)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, **kw)
        self.norm_first, self.activation = norm_first, activation
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def _attend(self, x, mask, padding, is_causal, average=True):
        out, weights = self.self_attn(x, x, x, key_padding_mask=padding, attn_mask=mask,
                                      is_causal=is_causal, average_attn_weights=average)
        return self.dropout1(out), weights

    def _feed_forward(self, x):
        h = activate(self.linear1(x), self.activation)
        return self.dropout2(self.linear2(self.dropout(h)))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False,
                need_weights: bool = False, average_attn_weights: bool = True):
        x = src
        if self.norm_first:
            attended, weights = self._attend(self.norm1(x), src_mask, src_key_padding_mask,
                                             is_causal, average_attn_weights)
            x = x + attended
            x = x + self._feed_forward(self.norm2(x))
        else:
            attended, weights = self._attend(x, src_mask, src_key_padding_mask, is_causal,
                                             average_attn_weights)
            x = self.norm1(x + attended)
            x = self.norm2(x + self._feed_forward(x))
        return (x, weights) if need_weights else x

