"""BERT (Devlin et al. 2019): a Transformer encoder pre-trained to fill in masked words, then
fine-tuned on a task.

    h_0[t] = LN(E_tok[x_t] + E_pos[t] + E_seg[s_t]),  then dropout
    h_l    = EncoderLayer_l(h_{l-1})                    (post-norm, gelu, as the paper's)
    masked LM:      p(x_t | x with some words masked) = softmax(LN(gelu(W_t h_L[t] + b_t)) E_tok^T + b)
    next sentence:  p(IsNext | A, B) = softmax(W_nsp tanh(W_p h_L[CLS] + b_p) + b_nsp)

An input is "[CLS] A [SEP]" or "[CLS] A [SEP] B [SEP]", the segment s_t 0 for A and 1 for B.
``mask_tokens`` picks the words to predict as the paper does: 15% of the positions, of which
80% become [MASK], 10% a random word and 10% stay as they are (so the model cannot learn that
only [MASK] positions matter).
"""
from __future__ import annotations

import random

from tinygrad_rnn import creation
from tinygrad_rnn.nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, Parameter, init
from tinygrad_rnn.nn.utils import name_parameters
from tinygrad_rnn.tensor import Tensor

from .transformer import TransformerEncoderLayer, activate

IGNORE = -100     # the target of a position that is not predicted (cross_entropy's ignore_index)


class BERT(Module):
    """``BERT(vocab_size, max_len=64, width=128, layers=2, heads=4, dim_feedforward=4 width,
    dropout=0.1, segments=2, next_sentence=False)``. ``forward(ids, segments=None,
    padding_mask=None)`` -> the last layer's states (B, T, width); ``padding_mask`` (B, T) is
    True at padding. ``mlm_logits(states)`` (..., vocab), ``pooled(states)`` (B, width) (the
    [CLS] summary used for classification) and ``nsp_logits(states)`` (B, 2) (with
    ``next_sentence=True``). The masked-LM output layer is the token embedding (tied); weights
    start N(0, 0.02) as the paper's."""

    def __init__(self, vocab_size: int, max_len: int = 64, width: int = 128, layers: int = 2,
                 heads: int = 4, dim_feedforward: int | None = None, dropout: float = 0.1,
                 segments: int = 2, next_sentence: bool = False, activation: str = "gelu",
                 layer_norm_eps: float = 1e-12, device=None, dtype=None):
        super().__init__()
        if width % heads:
            raise ValueError(f"BERT: width {width} is not divisible by heads {heads}")
        kw = dict(device=device, dtype=dtype)
        self.config = dict(architecture="bert", vocab_size=vocab_size, max_len=max_len,
                           width=width, layers=layers, heads=heads,
                           dim_feedforward=dim_feedforward or 4 * width, dropout=dropout,
                           segments=segments, next_sentence=next_sentence,
                           activation=activation, layer_norm_eps=layer_norm_eps)
        self.token_embedding = Embedding(vocab_size, width, **kw)
        self.position_embedding = Embedding(max_len, width, **kw)
        self.segment_embedding = Embedding(segments, width, **kw)
        self.embedding_norm = LayerNorm(width, eps=layer_norm_eps, **kw)
        self.dropout = Dropout(dropout)
        self.layers = ModuleList(
            TransformerEncoderLayer(width, heads, self.config["dim_feedforward"], dropout,
                                    activation, layer_norm_eps, batch_first=True, **kw)
            for _ in range(layers))
        self.mlm_transform = Linear(width, width, **kw)
        self.mlm_norm = LayerNorm(width, eps=layer_norm_eps, **kw)
        self.mlm_bias = Parameter(creation.zeros(vocab_size, **kw))
        self.pooler = Linear(width, width, **kw)
        self.nsp_head = Linear(width, 2, **kw) if next_sentence else None
        for name, p in self.named_parameters():
            if p.ndim > 1:
                init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias") and "norm" not in name:
                init.zeros_(p)
        name_parameters(self)

    def forward(self, ids: Tensor, segments=None, padding_mask=None, need_weights: bool = False):
        """The last layer's states (B, T, width); with ``need_weights`` also each layer's
        per-head attention weights (B, heads, T, T)."""
        T = ids.shape[1]
        if T > self.config["max_len"]:
            raise ValueError(f"BERT: an input of {T} tokens is longer than max_len "
                             f"({self.config['max_len']})")
        h = self.token_embedding(ids) + self.position_embedding.weight[:T]
        if segments is None:
            h = h + self.segment_embedding.weight[0]
        else:
            h = h + self.segment_embedding(segments)
        h = self.dropout(self.embedding_norm(h))
        maps = []
        for layer in self.layers:
            h, weights = layer(h, src_key_padding_mask=padding_mask, need_weights=True,
                               average_attn_weights=False)
            maps.append(weights)
        return (h, maps) if need_weights else h

    def mlm_logits(self, states: Tensor) -> Tensor:
        """Scores over the vocabulary for each state (pass only the masked positions' states:
        the output layer is the costly part)."""
        h = self.mlm_norm(activate(self.mlm_transform(states), self.config["activation"]))
        return h @ self.token_embedding.weight.mT + self.mlm_bias

    def pooled(self, states: Tensor) -> Tensor:
        return self.pooler(states[:, 0]).tanh()

    def nsp_logits(self, states: Tensor) -> Tensor:
        if self.nsp_head is None:
            raise ValueError("BERT: built without the next-sentence head (next_sentence=False)")
        return self.nsp_head(self.pooled(states))

    def extra_repr(self) -> str:
        c = self.config
        return f"layers={c['layers']}, heads={c['heads']}, width={c['width']}"


def mask_tokens(ids: list[list[int]], vocab_size: int, mask_id: int, special_ids=(),
                rng: random.Random | None = None, probability: float = 0.15):
    """Devlin et al.'s masking, for lists of token ids: each position that is not special is
    chosen with ``probability``; a chosen one becomes ``mask_id`` 80% of the time, a random
    word (not special) 10%, and stays 10%. Returns (inputs, targets): targets hold the
    original id where chosen and IGNORE elsewhere. A sentence where nothing was chosen gets
    one chosen position, so every sentence teaches something."""
    rng = rng or random.Random()
    special = set(special_ids) | {mask_id}
    words = [i for i in range(vocab_size) if i not in special]
    inputs, targets = [], []
    for row in ids:
        candidates = [t for t, token in enumerate(row) if token not in special]
        chosen = [t for t in candidates if rng.random() < probability]
        if not chosen and candidates:
            chosen = [rng.choice(candidates)]
        x, y = list(row), [IGNORE] * len(row)
        for t in chosen:
            y[t] = row[t]
            roll = rng.random()
            if roll < 0.8:
                x[t] = mask_id
            elif roll < 0.9:
                x[t] = rng.choice(words)
        inputs.append(x)
        targets.append(y)
    return inputs, targets
