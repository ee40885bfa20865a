"""Sequence to sequence with attention (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et
al. 2015), for padded variable-length batches.

    encoder:  h_1..h_n = (Bi)RNN(E_src[x_1..x_n])                   (padding ignored, below)
              s_0 = tanh(W_b [h_n^fwd; h_1^bwd])                      (the bridge)
    decoder, Bahdanau style (``attention="bahdanau"``):
              c_i = sum_j a_ij h_j,  a_i = softmax_j(v^T tanh(W s_{i-1} + U h_j))
              s_i = cell([E_tgt[y_{i-1}]; c_i], s_{i-1}),   p(y_i) = softmax(W_o [s_i; c_i])
    decoder, Luong style (``attention="dot" | "general" | "concat"``), with input feeding:
              s_t = cell([E_tgt[y_{t-1}]; s~_{t-1}], s_{t-1})
              c_t = sum_j a_tj h_j,  s~_t = tanh(W_c [c_t; s_t]),   p(y_t) = softmax(W_o s~_t)
    ``attention=None``: p(y_t) = softmax(W_o s_t), no attention.

Batches are padded with ``pad`` after each sequence; ``src_lengths`` gives the true lengths.
The encoder never lets padding into a state: rows are run in groups of equal length, each cut
to its length (as PyTorch's packed sequences), so both directions start and end at real tokens.
The attention masks padded source positions (weight exactly 0).

Training uses teacher forcing with probability ``teacher_forcing_ratio`` per step (else the
model's own previous argmax); decoding is greedy or beam search.
"""
from __future__ import annotations

import math

from tinygrad_rnn import functional as F
from tinygrad_rnn.backends import backend_for
from tinygrad_rnn.grad_mode import no_grad
from tinygrad_rnn.nn import Embedding, Linear, Module
from tinygrad_rnn.tape import scope
from tinygrad_rnn.tensor import Tensor

from .attention import AdditiveAttention, LuongAttention
from .gru_cell import GRUCell
from .lstm_cell import LSTMCell
from .recurrent import GRU, LSTM, RNN
from .rnn_cell import RNNCell

_LAYERS = {"gru": GRU, "lstm": LSTM, "rnn": RNN}
_CELLS = {"gru": GRUCell, "lstm": LSTMCell, "rnn": RNNCell}


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def _xp(like):
    return backend_for(_array(like)).xp


class Encoder(Module):
    """Embedding, then one (bidirectional, multi-layer) batch-first ``GRU`` / ``LSTM`` / ``RNN``
    (``rnn``, PyTorch's parameter names). ``encoder(src (B, n), src_lengths=None)`` returns
    (outputs (B, n, D*H), zero at padded positions, finals = (h, c or None)): the last
    layer's final states of both directions side by side, (B, D*H).

    Padding never enters a state: rows are run in groups of equal length, each group cut to
    its length (what PyTorch's packed sequences do), so the forward direction ends at each
    row's last token and the backward direction starts there.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, cell: str = "gru",
                 num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
                 pad: int = 0, fused: bool = True, device=None, dtype=None):
        super().__init__()
        if cell not in _LAYERS:
            raise ValueError(f"Encoder: cell must be one of {sorted(_LAYERS)}, got {cell!r}")
        self.cell, self.hidden_size, self.bidirectional = cell, hidden_size, bidirectional
        self.num_directions, self.pad = 2 if bidirectional else 1, pad
        kw = dict(device=device, dtype=dtype)
        self.embedding = Embedding(vocab_size, embed_size, padding_idx=pad, **kw)
        self.rnn = _LAYERS[cell](embed_size, hidden_size, num_layers=num_layers,
                                 bidirectional=bidirectional, dropout=dropout, batch_first=True,
                                 fused=fused, **kw)

    def forward(self, src, src_lengths=None):
        x = self.embedding(src)
        B, n = src.shape[0], src.shape[1]
        xp = _xp(src)
        lengths = None if src_lengths is None else xp.asarray(_array(src_lengths))
        if lengths is None or bool((lengths == n).all()):
            outputs, state = self.rnn(x)
        else:
            outputs, state = self._by_length(x, lengths, xp)
        states = state if isinstance(state, tuple) else (state,)
        D = self.num_directions
        finals = [F.cat([s[-D + d] for d in range(D)], dim=-1) for s in states]
        return outputs, (finals[0], finals[1] if len(finals) > 1 else None)

    def _by_length(self, x, lengths, xp):
        """Run each group of equal-length rows cut to its length; reassemble in row order."""
        n = x.shape[1]
        groups = sorted({int(v) for v in lengths.tolist()})
        if groups[0] < 1:
            raise ValueError("Encoder: every source must have at least one token")
        outs, states, order = [], [], []
        for length in groups:
            rows = xp.nonzero(lengths == length)[0]
            out, state = self.rnn(x[rows, :length])
            if length < n:
                out = F.pad(out, (0, 0, 0, n - length))
            outs.append(out)
            states.append(state if isinstance(state, tuple) else (state,))
            order.extend(rows.tolist())
        inverse = xp.argsort(xp.asarray(order))
        outputs = F.cat(outs, dim=0)[inverse]
        merged = tuple(F.cat([s[k] for s in states], dim=1)[:, inverse]
                       for k in range(len(states[0])))
        return outputs, merged if len(merged) > 1 else merged[0]


class Decoder(Module):
    """One step at a time (``step``), or a whole teacher-forced sequence (``forward``)."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, encoder_size: int,
                 cell: str = "gru", attention: str | None = "bahdanau", pad: int = 0,
                 attention_size: int | None = None, device=None, dtype=None):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"Decoder: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if attention not in (None, "bahdanau", "dot", "general", "concat"):
            raise ValueError(f"Decoder: attention must be None, 'bahdanau', 'dot', 'general' or "
                             f"'concat', got {attention!r}")
        kw = dict(device=device, dtype=dtype)
        self.cell_kind, self.attention_kind, self.hidden_size = cell, attention, hidden_size
        self.embedding = Embedding(vocab_size, embed_size, padding_idx=pad, **kw)
        extra = encoder_size if attention == "bahdanau" else hidden_size if attention else 0
        self.cell = _CELLS[cell](embed_size + extra, hidden_size, **kw)
        if attention == "bahdanau":
            self.attention = AdditiveAttention(hidden_size, encoder_size,
                                               attention_size or hidden_size, **kw)
            self.out = Linear(hidden_size + encoder_size, vocab_size, **kw)
        elif attention:
            self.attention = LuongAttention(hidden_size, encoder_size, score=attention,
                                            hidden_size=attention_size, **kw)
            self.out = Linear(hidden_size, vocab_size, **kw)
        else:
            self.out = Linear(hidden_size, vocab_size, **kw)

    def start(self, memory, mask, state):
        """The per-sequence context of a decoding run: (memory, mask, projected keys, the
        initial state, the initial input feed)."""
        keys = self.attention.project_keys(memory) if self.attention_kind == "bahdanau" else None
        feed = None
        if self.attention_kind not in (None, "bahdanau"):
            feed = Tensor._make(_xp(memory.data).zeros((memory.shape[0], self.hidden_size),
                                                       dtype=memory.dtype))
        return {"memory": memory, "mask": mask, "keys": keys, "state": state, "feed": feed}

    def step(self, y_prev, run: dict):
        """One decoder step from the previous symbols y_prev (B,): updates ``run`` (state,
        input feed) and returns (logits (B, V), attention weights (B, n) or None)."""
        e = self.embedding(y_prev)
        state, memory, mask = run["state"], run["memory"], run["mask"]
        h_prev = state[0] if isinstance(state, tuple) else state
        weights = None
        if self.attention_kind == "bahdanau":
            with scope("attention"):             # drawn as its own block in the step
                context, weights = self.attention(h_prev, memory, mask=mask,
                                                  projected_keys=run["keys"])
            state = self.cell(F.cat([e, context], dim=-1), state)
            h = state[0] if isinstance(state, tuple) else state
            logits = self.out(F.cat([h, context], dim=-1))
        elif self.attention_kind:
            state = self.cell(F.cat([e, run["feed"]], dim=-1), state)
            h = state[0] if isinstance(state, tuple) else state
            with scope("attention"):
                attentional, weights = self.attention(h, memory, mask=mask)
            run["feed"] = attentional
            logits = self.out(attentional)
        else:
            state = self.cell(e, state)
            h = state[0] if isinstance(state, tuple) else state
            logits = self.out(h)
        run["state"] = state
        return logits, weights


class Seq2Seq(Module):
    """Encoder + bridge + decoder. ``model(src, src_lengths, tgt, teacher_forcing_ratio=1.0)``
    with tgt (B, m) starting with ``sos`` returns (logits (B, m-1, V) predicting tgt[:, 1:],
    attention weights (B, m-1, n) or None). ``loss(...)``: mean cross-entropy over the
    non-padding targets. ``greedy(src, src_lengths, max_len)`` and ``beam_search(src,
    src_lengths, beam_size, max_len)`` decode."""

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_size: int = 32,
                 hidden_size: int = 64, cell: str = "gru", attention: str | None = "bahdanau",
                 bidirectional: bool = True, num_layers: int = 1, dropout: float = 0.0,
                 pad: int = 0, sos: int = 1, eos: int = 2, fused: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.pad, self.sos, self.eos = pad, sos, eos
        self.encoder = Encoder(src_vocab, embed_size, hidden_size, cell, num_layers,
                               bidirectional, dropout, pad, fused, **kw)
        encoder_size = hidden_size * self.encoder.num_directions
        self.bridge = Linear(encoder_size, hidden_size, **kw)
        if cell == "lstm":
            self.bridge_c = Linear(encoder_size, hidden_size, **kw)
        self.decoder = Decoder(tgt_vocab, embed_size, hidden_size, encoder_size, cell, attention,
                               pad, **kw)

    def encode(self, src, src_lengths=None):
        """(decoding context for Decoder.step): memory, padding mask and s_0."""
        memory, (h, c) = self.encoder(src, src_lengths)
        xp = _xp(src)
        n = src.shape[1]
        if src_lengths is None:
            mask = xp.ones((src.shape[0], n), dtype=bool)
        else:
            mask = xp.arange(n)[None, :] < xp.asarray(_array(src_lengths))[:, None]
        state = self.bridge(h).tanh()
        if c is not None:
            state = (state, self.bridge_c(c).tanh())
        return self.decoder.start(memory, mask, state)

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio: float = 1.0):
        run = self.encode(src, src_lengths)
        tgt = _array(tgt)
        backend = backend_for(tgt)
        y = tgt[:, 0]
        logits, weights = [], []
        for t in range(1, tgt.shape[1]):
            with scope(f"decoder t={t}"):      # drawings: one cluster per decoder step
                step_logits, w = self.decoder.step(y, run)
            logits.append(step_logits)
            weights.append(w)
            if teacher_forcing_ratio >= 1.0 or (
                    teacher_forcing_ratio > 0.0 and
                    backend.random(backend.device_of(tgt)).random() < teacher_forcing_ratio):
                y = tgt[:, t]
            else:
                y = step_logits.data.argmax(axis=-1)
        stacked = F.stack(logits, dim=1)
        return stacked, (F.stack(weights, dim=1) if weights[0] is not None else None)

    def loss(self, src, src_lengths, tgt, teacher_forcing_ratio: float = 1.0):
        logits, _ = self(src, src_lengths, tgt, teacher_forcing_ratio)
        targets = _array(tgt)[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=self.pad)

    @no_grad()
    def greedy(self, src, src_lengths=None, max_len: int = 50):
        """argmax decoding; returns (tokens (B, <= max_len) padded after eos, weights
        (B, steps, n) or None)."""
        run = self.encode(src, src_lengths)
        xp = _xp(src)
        B = src.shape[0]
        y = xp.full((B,), self.sos, dtype=xp.int64)
        done = xp.zeros(B, dtype=bool)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, w = self.decoder.step(y, run)
            y = logits.data.argmax(axis=-1)
            y = xp.where(done, self.pad, y)
            tokens.append(y)
            weights.append(w)
            done = done | (y == self.eos)
            if bool(done.all()):
                break
        attention = None if weights[0] is None else F.stack(weights, dim=1)
        return Tensor._make(xp.stack(tokens, axis=1)), attention

    @no_grad()
    def beam_search(self, src, src_lengths=None, beam_size: int = 4, max_len: int = 50,
                    length_penalty: float = 0.0):
        """Beam search, one source at a time. For each source returns the beams found, best
        first, as (tokens without sos (ending with eos unless cut at max_len), score); the score
        is the sum of log-probabilities divided by len^length_penalty (0: no normalisation)."""
        xp = _xp(src)
        results = []
        lengths = None if src_lengths is None else xp.asarray(_array(src_lengths))
        for b in range(src.shape[0]):
            one = src[b:b + 1]
            length = None if lengths is None else lengths[b:b + 1]
            results.append(self._beam_one(one, length, beam_size, max_len, length_penalty, xp))
        return results

    def _beam_one(self, src, src_lengths, K, max_len, alpha, xp):
        run = self.encode(src, src_lengths)
        beams = [([], 0.0)]                                 # (tokens, sum of log-probs)
        finished = []

        def normalised(tokens, total):
            return total / (max(len(tokens), 1) ** alpha) if alpha else total

        states = dict(run)
        for _ in range(max_len):
            y = xp.asarray([tokens[-1] if tokens else self.sos for tokens, _ in beams],
                           dtype=xp.int64)
            logits, _ = self.decoder.step(y, states)
            log_probs = F.log_softmax(logits, dim=-1).data
            candidates = []
            for k, (tokens, total) in enumerate(beams):
                top = xp.argsort(-log_probs[k])[:K]
                for v in top.tolist():
                    candidates.append((total + float(log_probs[k, v]), k, v))
            candidates.sort(key=lambda c: -c[0])
            next_beams, parents = [], []
            for total, k, v in candidates:
                tokens = beams[k][0] + [v]
                if v == self.eos:
                    finished.append((tokens, normalised(tokens, total)))
                else:
                    next_beams.append((tokens, total))
                    parents.append(k)
                if len(next_beams) == K:
                    break
            if len(finished) >= K or not next_beams:
                break
            beams = next_beams
            states = _select_run(states, parents, xp)
        if len(finished) < K:
            finished.extend((tokens, normalised(tokens, total)) for tokens, total in beams)
        finished.sort(key=lambda r: -r[1])
        return finished[:K]

    def score(self, src, src_lengths, tokens) -> float:
        """sum of log p(token) for one source (batch of 1) and a decoded sequence (no sos)."""
        xp = _xp(src)
        with no_grad():
            tgt = xp.asarray([[self.sos] + list(tokens)], dtype=xp.int64)
            logits, _ = self(src, src_lengths, tgt)
            log_probs = F.log_softmax(logits, dim=-1).data[0]
        return float(sum(log_probs[t, v] for t, v in enumerate(tokens)))


def _select_run(run: dict, parents: list, xp) -> dict:
    """The decoding context with row i taken from beam ``parents[i]`` (memory, mask and keys
    broadcast from the single source)."""
    index = xp.asarray(parents, dtype=xp.int64)
    out = dict(run)
    rows = len(parents)

    def pick(t):
        if t is None:
            return None
        if isinstance(t, tuple):
            return tuple(pick(s) for s in t)
        return Tensor._make(t.data[index])

    def widen(t):
        if t is None:
            return None
        data = _array(t)
        wide = xp.broadcast_to(data[:1], (rows,) + data.shape[1:])
        return Tensor._make(xp.ascontiguousarray(wide)) if isinstance(t, Tensor) else wide

    out["state"] = pick(run["state"])
    out["feed"] = pick(run["feed"])
    out["memory"], out["mask"], out["keys"] = widen(run["memory"]), widen(run["mask"]), widen(run["keys"])
    return out
