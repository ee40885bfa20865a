"""Attention for sequence models: Bahdanau's additive attention, Luong's dot / general / concat
scores with the attentional state, and scaled dot-product attention. Each returns its weights.

Notation: the decoder's state s (the query), the encoder's states h_1..h_n (the keys, and by
default the values), scores e_ij, weights a_ij = softmax_j(e_ij), context c_i = sum_j a_ij h_j.
A ``mask`` (B, n) or broadcastable to the scores marks with True the keys that may be attended
(False: padding); masked keys get weight exactly 0.
"""
from __future__ import annotations

import math

from tinygrad_rnn import functional as F
from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.nn import Linear, Module
from tinygrad_rnn.tensor import Tensor

MASKED = -1e9   # the score of a masked position: exp(MASKED - max) is exactly 0 in float32/64


def masked_softmax(scores: Tensor, mask=None, dim: int = -1) -> Tensor:
    """softmax over ``dim`` where ``mask`` is True; weight 0 elsewhere. ``mask`` is a boolean
    array or Tensor broadcastable to ``scores`` (a fully masked row gets uniform weights)."""
    if mask is not None:
        keep = mask.data if isinstance(mask, Tensor) else mask
        xp = backend_for(scores.data).xp
        keep = xp.broadcast_to(xp.asarray(keep, dtype=bool), scores.shape)
        scores = F.where(keep, scores, MASKED)
    return F.softmax(scores, dim)


def _as_queries(query: Tensor):
    """(B, d) -> (B, 1, d) and a flag to squeeze the result back."""
    return (query.unsqueeze(1), True) if query.ndim == 2 else (query, False)


def _key_mask(mask, like):
    """A (B, n) key mask -> (B, 1, n), broadcastable to (B, m, n) scores."""
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else mask
    return data[:, None, :] if data.ndim == 2 else data


class AdditiveAttention(Module):
    """Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly Learning to Align
    and Translate":

        e_ij = v^T tanh(W s_{i-1} + U h_j + b),   a_ij = softmax_j(e_ij),   c_i = sum_j a_ij h_j

    ``attn(query, keys, values=None, mask=None)``: query (B, d_q) (one decoder state) or
    (B, m, d_q) (several), keys (B, n, d_k), values (B, n, d_v) (default: the keys). Returns
    (context (B, d_v) or (B, m, d_v), weights (B, n) or (B, m, n)). U h_j does not depend on
    the decoder step: ``project_keys(keys)`` once and pass it as ``projected_keys`` inside a
    decoding loop.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int, device=None, dtype=None):
        super().__init__()
        self.W = Linear(query_size, hidden_size, bias=False, device=device, dtype=dtype)
        self.U = Linear(key_size, hidden_size, bias=True, device=device, dtype=dtype)
        self.v = Linear(hidden_size, 1, bias=False, device=device, dtype=dtype)

    def project_keys(self, keys: Tensor) -> Tensor:
        """U h_j + b for every key: (B, n, hidden)."""
        return self.U(keys)

    def forward(self, query, keys, values=None, mask=None, projected_keys=None):
        values = keys if values is None else values
        q, single = _as_queries(query)
        uh = self.project_keys(keys) if projected_keys is None else projected_keys
        features = (self.W(q).unsqueeze(2) + uh.unsqueeze(1)).tanh()       # (B, m, n, hidden)
        scores = self.v(features).squeeze(-1).named("e_ij")                  # (B, m, n)
        weights = masked_softmax(scores, _key_mask(mask, scores)).named("a_ij")
        context = (weights @ values).named("c_i")                            # (B, m, d_v)
        if single:
            return context.squeeze(1).named("c_i"), weights.squeeze(1).named("a_ij")
        return context, weights


class LuongAttention(Module):
    """Luong, Pham & Manning (2015), "Effective Approaches to Attention-based Neural Machine
    Translation" (global attention). Scores between the decoder state s_t and each h_j:

        dot:      e_tj = s_t^T h_j                    (needs d_q == d_k)
        general:  e_tj = s_t^T W_a h_j
        concat:   e_tj = v_a^T tanh(W_a [s_t; h_j])

    a_t = softmax(e_t), context c_t = sum_j a_tj h_j, and the attentional state

        s~_t = tanh(W_c [c_t; s_t])

    (the vector fed to the output layer, and with input feeding to the next step).
    ``attn(query, keys, values=None, mask=None)`` returns (s~_t, weights) with the shapes of
    AdditiveAttention; with ``attentional=False`` it returns (c_t, weights) instead.
    """

    def __init__(self, query_size: int, key_size: int | None = None, score: str = "general",
                 hidden_size: int | None = None, output_size: int | None = None,
                 attentional: bool = True, device=None, dtype=None):
        super().__init__()
        key_size = query_size if key_size is None else key_size
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"LuongAttention: score must be 'dot', 'general' or 'concat', "
                             f"got {score!r}")
        if score == "dot" and key_size != query_size:
            raise ValueError(f"LuongAttention: the dot score needs key_size == query_size "
                             f"(got {key_size} and {query_size}); use 'general'")
        self.score, self.attentional = score, attentional
        self.query_size, self.key_size = query_size, key_size
        if score == "general":
            self.W_a = Linear(key_size, query_size, bias=False, device=device, dtype=dtype)
        elif score == "concat":
            hidden = hidden_size or query_size
            self.W_a = Linear(query_size + key_size, hidden, bias=False, device=device, dtype=dtype)
            self.v_a = Linear(hidden, 1, bias=False, device=device, dtype=dtype)
        if attentional:
            self.W_c = Linear(key_size + query_size, output_size or query_size, bias=False,
                              device=device, dtype=dtype)

    def scores(self, q: Tensor, keys: Tensor) -> Tensor:
        """e: (B, m, n) from q (B, m, d_q) and keys (B, n, d_k)."""
        if self.score == "dot":
            return q @ keys.mT
        if self.score == "general":
            return q @ self.W_a(keys).mT
        B, m, n = q.shape[0], q.shape[1], keys.shape[1]
        pairs = F.cat([q.unsqueeze(2).expand(B, m, n, q.shape[-1]),
                       keys.unsqueeze(1).expand(B, m, n, keys.shape[-1])], dim=-1)
        return self.v_a(self.W_a(pairs).tanh()).squeeze(-1)

    def forward(self, query, keys, values=None, mask=None):
        values = keys if values is None else values
        q, single = _as_queries(query)
        scores = self.scores(q, keys).named("e_ij")
        weights = masked_softmax(scores, _key_mask(mask, scores)).named("a_ij")
        out = (weights @ values).named("c_i")                                # c_t: (B, m, d_v)
        if self.attentional:
            out = self.W_c(F.cat([out, q], dim=-1)).tanh().named("s~_t")     # s~_t
        if single:
            return out.squeeze(1).named(out.name), weights.squeeze(1).named("a_ij")
        return out, weights

    def extra_repr(self) -> str:
        return f"score={self.score!r}"


def causal_mask(length_q: int, length_k: int, like) -> object:
    """Boolean (Lq, Lk) array, True where query i may attend key j: j <= i, aligned at the
    top left as torch's ``is_causal`` (with Lq != Lk, query i sees keys 0..i)."""
    xp = backend_for(like.data).xp
    return xp.tril(xp.ones((length_q, length_k), dtype=bool))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 training: bool = True):
    """Vaswani et al. (2017):  Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V.

    query (..., L, d_k), key (..., S, d_k), value (..., S, d_v). ``attn_mask`` broadcastable
    to (..., L, S): boolean with True where attention is allowed (as
    ``torch.nn.functional.scaled_dot_product_attention``), or floating and added to the scores.
    ``is_causal`` also masks key j > i for query i (top-left aligned, as torch). Returns (output (..., L, d_v),
    weights (..., L, S)); dropout (``dropout_p``, while ``training``) acts on the weights used
    for the output, the returned weights are before dropout.
    """
    d = query.shape[-1]
    scores = (query @ key.mT) * (1.0 / math.sqrt(d) if scale is None else scale)
    keep = None
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
        if mask.dtype.kind == "b":
            keep = mask
        else:
            scores = scores + (attn_mask if isinstance(attn_mask, Tensor) else Tensor._make(mask))
    if is_causal:
        causal = causal_mask(scores.shape[-2], scores.shape[-1], scores)
        keep = causal if keep is None else keep & causal
    weights = masked_softmax(scores, keep).named("a_ij")      # viz.html finds the maps by it
    used = F.dropout(weights, dropout_p, training) if dropout_p else weights
    return used @ value, weights
