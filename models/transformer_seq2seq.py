"""Translation with the Transformer of "Attention is all you need": token embeddings scaled
by sqrt(d) plus sinusoidal positions on both sides, an encoder-decoder ``Transformer``, and a
linear layer to the target vocabulary.

    memory = Encoder(sqrt(d) E_src[x] + PE)
    p(y_i | y_<i, x) = softmax(W_o Decoder(sqrt(d) E_tgt[y_<i] + PE, memory)_i)

Trained with teacher forcing (the whole target at once, future target positions masked),
decoded greedily one token at a time. The interface is ``Seq2Seq``'s (``loss``, ``greedy``),
so the translation demo trains either.
"""
from __future__ import annotations

import math

from tinygrad_rnn import functional as F
from tinygrad_rnn import no_grad
from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.nn import Embedding, Linear, Module
from tinygrad_rnn.tensor import Tensor

from .encoder_decoder import Transformer
from .transformer import PositionalEncoding


def _array(x):
    return x.data if isinstance(x, Tensor) else x


class TransformerSeq2Seq(Module):
    """``model(src, src_lengths, tgt)`` with src (B, n) and tgt (B, m) starting with ``sos``
    returns (logits (B, m-1, V) predicting tgt[:, 1:], the last decoder layer's cross-
    attention weights (B, m-1, n), averaged over heads). Padding (``pad``) is masked on both
    sides; ``src_lengths`` is accepted for Seq2Seq's interface and not needed."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 256, dropout: float = 0.1, max_len: int = 128,
                 pad: int = 0, sos: int = 1, eos: int = 2, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.pad, self.sos, self.eos, self.d_model = pad, sos, eos, d_model
        self.src_embedding = Embedding(src_vocab, d_model, padding_idx=pad, **kw)
        self.tgt_embedding = Embedding(tgt_vocab, d_model, padding_idx=pad, **kw)
        self.positions = PositionalEncoding(d_model, max_len, dropout, batch_first=True,
                                            device=device, dtype=dtype or "float32")
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                       dim_feedforward, dropout, batch_first=True, **kw)
        self.out = Linear(d_model, tgt_vocab, **kw)
        # N(0, 1/d) rows, so that sqrt(d) E[y] has unit-variance entries like the positions
        for table in (self.src_embedding, self.tgt_embedding):
            table.weight.data[...] *= 1.0 / math.sqrt(d_model)

    def _embed(self, table: Embedding, ids):
        return self.positions(table(ids) * math.sqrt(self.d_model))

    def encode(self, src, average_attn_weights: bool = True):
        """(memory (B, n, d), source padding mask (B, n) True at padding, each layer's
        self-attention weights)."""
        padding = _array(src) == self.pad
        memory, maps = self.transformer.encoder(
            self._embed(self.src_embedding, src), src_key_padding_mask=padding,
            need_weights=True, average_attn_weights=average_attn_weights)
        return memory, padding, maps

    def decode(self, tgt_in, memory, src_padding, average_attn_weights: bool = True):
        """(logits (B, m, V), each layer's (self-attention, cross-attention) weights)."""
        causal = Transformer.generate_square_subsequent_mask(
            tgt_in.shape[1], device=memory.device, dtype=memory.dtype)
        h, maps = self.transformer.decoder(
            self._embed(self.tgt_embedding, tgt_in), memory, tgt_mask=causal,
            tgt_key_padding_mask=_array(tgt_in) == self.pad,
            memory_key_padding_mask=src_padding, need_weights=True,
            average_attn_weights=average_attn_weights)
        return self.out(h), maps

    def forward(self, src, src_lengths, tgt):
        memory, padding, _ = self.encode(src)
        logits, maps = self.decode(Tensor._make(_array(tgt)[:, :-1]), memory, padding)
        return logits, maps[-1][1]

    @no_grad()
    def attention_maps(self, src, tgt) -> dict:
        """Per-head weights of every layer for one teacher-forced pass: "encoder" (B, h, n, n),
        "self" (B, h, m-1, m-1) and "cross" (B, h, m-1, n), each a list over layers."""
        memory, padding, encoder = self.encode(src, average_attn_weights=False)
        _, decoder = self.decode(Tensor._make(_array(tgt)[:, :-1]), memory, padding,
                                 average_attn_weights=False)
        return {"encoder": encoder, "self": [s for s, _ in decoder],
                "cross": [c for _, c in decoder]}

    def loss(self, src, src_lengths, tgt):
        logits, _ = self(src, src_lengths, tgt)
        targets = _array(tgt)[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=self.pad)

    @no_grad()
    def greedy(self, src, src_lengths=None, max_len: int = 50):
        """argmax decoding, the encoder run once and the decoder over the growing prefix;
        returns (tokens (B, <= max_len) padded after eos, cross-attention (B, steps, n))."""
        memory, padding, _ = self.encode(src)
        xp = backend_for(_array(src)).xp
        B = src.shape[0]
        prefix = xp.full((B, 1), self.sos, dtype=xp.int64)
        done = xp.zeros(B, dtype=bool)
        weights = None
        for _ in range(max_len):
            logits, maps = self.decode(Tensor._make(prefix), memory, padding)
            weights = maps[-1][1]
            y = logits.data[:, -1].argmax(axis=-1)
            y = xp.where(done, self.pad, y)
            prefix = xp.concatenate([prefix, y[:, None]], axis=1)
            done = done | (y == self.eos)
            if bool(done.all()):
                break
        return Tensor._make(prefix[:, 1:]), weights
