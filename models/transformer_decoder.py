"""The Transformer decoder layer (Vaswani et al. 2017): masked self-attention over the target,
attention over the encoder's output (the "memory"), and a position-wise feed-forward block."""
from __future__ import annotations

from tinygrad_rnn.nn import Dropout, LayerNorm, Linear, Module

from .multihead import MultiHeadAttention
from .transformer import activate, check_activation


class TransformerDecoderLayer(Module):
    """Three blocks, each with a residual connection and layer normalisation, for a target x
    (the decoder's input so far) and the encoder's output m:

        post-norm (norm_first=False, the original):  x = LN_1(x + drop(SA(x, causal mask)))
                                                     x = LN_2(x + drop(CA(x, m)))
                                                     x = LN_3(x + drop(FF(x)))
        pre-norm  (norm_first=True):                 x = x + drop(SA(LN_1(x), causal mask))
                                                     x = x + drop(CA(LN_2(x), m))
                                                     x = x + drop(FF(LN_3(x)))

    SA(x) = MultiHead(x, x, x) (queries, keys and values from the target), CA(x, m) =
    MultiHead(x, m, m) (queries from the target, keys and values from the memory),
    FF(x) = W_2 dropout(act(W_1 x + b_1)) + b_2.

    Sub-modules named as torch.nn.TransformerDecoderLayer's (self_attn, multihead_attn,
    linear1, dropout, linear2, norm1..3, dropout1..3), so its state dict loads unchanged.
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: masks as
    MultiHeadAttention's (boolean True = may not attend, or floats added to the scores).
    ``tgt_is_causal=True`` masks future target positions even without a ``tgt_mask`` (torch
    takes it as a hint that ``tgt_mask`` is causal and needs the mask). With
    ``need_weights=True`` returns (output, (self-attention weights, cross-attention
    weights)), averaged over heads unless ``average_attn_weights=False``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, device=None, dtype=None):
        super().__init__()
        check_activation("TransformerDecoderLayer", activation)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, **kw)
        self.norm_first, self.activation = norm_first, activation
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)

    def _self_attend(self, x, mask, padding, is_causal, average):
        out, weights = self.self_attn(x, x, x, key_padding_mask=padding, attn_mask=mask,
                                      is_causal=is_causal, average_attn_weights=average)
        return self.dropout1(out), weights

    def _cross_attend(self, x, memory, mask, padding, is_causal, average):
        out, weights = self.multihead_attn(x, memory, memory, key_padding_mask=padding,
                                           attn_mask=mask, is_causal=is_causal,
                                           average_attn_weights=average)
        return self.dropout2(out), weights

    def _feed_forward(self, x):
        h = activate(self.linear1(x), self.activation)
        return self.dropout3(self.linear2(self.dropout(h)))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, need_weights: bool = False,
                average_attn_weights: bool = True):
        x, avg = tgt, average_attn_weights
        if self.norm_first:
            attended, self_weights = self._self_attend(self.norm1(x), tgt_mask,
                                                       tgt_key_padding_mask, tgt_is_causal, avg)
            x = x + attended
            attended, cross_weights = self._cross_attend(self.norm2(x), memory, memory_mask,
                                                         memory_key_padding_mask,
                                                         memory_is_causal, avg)
            x = x + attended
            x = x + self._feed_forward(self.norm3(x))
        else:
            attended, self_weights = self._self_attend(x, tgt_mask, tgt_key_padding_mask,
                                                       tgt_is_causal, avg)
            x = self.norm1(x + attended)
            attended, cross_weights = self._cross_attend(x, memory, memory_mask,
                                                         memory_key_padding_mask,
                                                         memory_is_causal, avg)
            x = self.norm2(x + attended)
            x = self.norm3(x + self._feed_forward(x))
        return (x, (self_weights, cross_weights)) if need_weights else x
