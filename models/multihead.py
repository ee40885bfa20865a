"""Multi-head attention (Vaswani et al. 2017), with torch.nn.MultiheadAttention's parameter
names, shapes, masks and return values, so its state dict loads unchanged."""
from __future__ import annotations

from tinygrad_rnn import creation
from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.errors import OpError
from tinygrad_rnn.nn import Linear, Module, Parameter, init
from tinygrad_rnn.tensor import Tensor

from .attention import MASKED, scaled_dot_product_attention


def _array(mask):
    return mask.data if isinstance(mask, Tensor) else mask


class MultiHeadAttention(Module):
    """    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V),  Attention = softmax(Q K^T / sqrt(d)) V,

    d = embed_dim / num_heads. Parameters as PyTorch's: ``in_proj_weight`` (3E, E) holding
    [W^Q; W^K; W^V] (Xavier-uniform), ``in_proj_bias`` (3E,) (zeros), ``out_proj`` a Linear
    (E, E) with zero bias.

    ``mha(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)``: query (L, B, E), key/value (S, B, E), or
    (B, L, E) / (B, S, E) with ``batch_first``, or unbatched (L, E). As in PyTorch, boolean
    masks mark with True what may *not* be attended: ``key_padding_mask`` (B, S) (padding),
    ``attn_mask`` (L, S) or (B * num_heads, L, S); a floating ``attn_mask`` is added to the
    scores. Returns (output like query, weights (B, L, S) averaged over heads, or
    (B, num_heads, L, S); None when need_weights=False). The weights are the softmax before
    dropout, so each row sums to 1.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        E = embed_dim
        self.in_proj_weight = Parameter(init.xavier_uniform_(
            creation.zeros(3 * E, E, device=device, dtype=dtype)))
        if bias:
            self.in_proj_bias = Parameter(creation.zeros(3 * E, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _project(self, x, k: int):
        E = self.embed_dim
        y = x @ self.in_proj_weight[k * E:(k + 1) * E].mT
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[k * E:(k + 1) * E]
        B, T = y.shape[0], y.shape[1]
        return y.reshape(B, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)  # (B, h, T, d)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _array(key_padding_mask)[None]
        if query.shape[-1] != self.embed_dim:
            raise OpError(f"MultiHeadAttention: query's last dimension is {query.shape[-1]}, "
                          f"expected embed_dim={self.embed_dim}")
        if not (batched and self.batch_first):           # -> (B, T, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        mask = self._mask(key_padding_mask, attn_mask, B, L, S, q)
        out, weights = scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout, is_causal=is_causal,
            training=self.training)
        out = self.out_proj(out.permute(0, 2, 1, 3).reshape(B, L, self.embed_dim))
        if not (batched and self.batch_first):
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def _mask(self, key_padding_mask, attn_mask, B: int, L: int, S: int, like):
        """One mask for the (B, h, L, S) scores: boolean True = allowed, or additive floats.
        Boolean masks mark with True what may not be attended; float masks (key padding or
        attention) are added to the scores, as torch."""
        xp = backend_for(like.data).xp
        allowed, additive = None, None
        if key_padding_mask is not None:
            pad = xp.asarray(_array(key_padding_mask))
            if pad.dtype.kind == "f":
                additive = pad.astype(like.dtype)[:, None, None, :]
            else:
                allowed = ~pad.astype(bool)[:, None, None, :]
        if attn_mask is not None:
            m = xp.asarray(_array(attn_mask))
            if m.ndim == 3:                               # (B * h, L, S)
                m = m.reshape(B, self.num_heads, L, S)
            if m.dtype.kind == "b":
                allowed = ~m if allowed is None else allowed & ~m
            else:
                m = m.astype(like.dtype)
                additive = m if additive is None else additive + m
        if additive is None:
            return allowed
        if allowed is not None:
            additive = xp.where(allowed, additive, like.dtype.type(MASKED))
        return Tensor._make(additive)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
