"""The character-level language model of the lecture notes.

    e_t = E[x_t]                         (embedding of the symbol at step t)
    h_t = cell(e_t, h_{t-1})             (RNN, LSTM, GRU or MUT1-3, ``num_layers`` deep)
    z_t = W_hy h_t + b_y                 (logits over the vocabulary)
    p(x_{t+1} | x_{<=t}) = softmax(z_t)

Trained with cross-entropy on the next symbol, by truncated BPTT; sampled one symbol at
a time with temperature and top-k.
"""
from __future__ import annotations

import random

from tinygrad_rnn import Tensor, no_grad
from tinygrad_rnn.nn import Embedding, Linear, Module
from tinygrad_rnn.nn.utils import name_parameters

from .sampling import choose
from .vocabulary import Vocabulary

CELLS = ("rnn", "lstm", "gru", "mut1", "mut2", "mut3")


def make_recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                   dropout: float = 0.0) -> Module:
    """A batch-first recurrent layer stack of the named cell."""
    from tinygrad_rnn import models
    layers = {"rnn": models.RNN, "lstm": models.LSTM, "gru": models.GRU}
    if cell in layers:
        return layers[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout)
    if cell in ("mut1", "mut2", "mut3"):
        cell_class = getattr(models, cell.upper() + "Cell")
        return models.CellLayer(cell_class, input_size, hidden_size, num_layers=num_layers,
                                batch_first=True, dropout=dropout)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")


def train_windows(model, streams: Tensor, seq_len: int, steps: int, optimizer,
                  clip: float = 5.0, log=None) -> float:
    """Truncated BPTT: ``steps`` updates on consecutive (B, T) windows of ``streams``, the
    hidden state carried from window to window and detached between them; at the end of the
    text it starts over from the beginning with a fresh state. Returns the last loss."""
    import tinygrad_rnn.functional as F
    from tinygrad_rnn.nn.utils import clip_grad_norm_
    from .text_batches import bptt_windows
    windows, state, loss = iter(()), None, None
    for step in range(1, steps + 1):
        pair = next(windows, None)
        if pair is None:
            windows, state = bptt_windows(streams, seq_len), None
            pair = next(windows)
        x, y = pair
        logits, state = model(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if clip:
            clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if log is not None and step % max(steps // 5, 1) == 0:
            log(f"step {step}: loss {loss.item():.3f} nats/char")
    return loss.item()


def detach_state(state):
    """Cut the graph behind a hidden state (h, or (h, c)) between BPTT windows."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    return state.detach()


class CharLM(Module):
    """Embedding -> recurrent stack -> linear head; ``forward(ids, state)`` gives
    (logits of shape (B, T, vocab), the final state)."""

    def __init__(self, vocab_size: int, hidden_size: int = 256, cell: str = "lstm",
                 num_layers: int = 1, embedding_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        if cell.startswith("mut"):
            embedding_dim = hidden_size   # MUT cells add x_t to the state unprojected
        self.config = dict(vocab_size=vocab_size, hidden_size=hidden_size, cell=cell,
                           num_layers=num_layers, embedding_dim=embedding_dim, dropout=dropout)
        self.embedding = Embedding(vocab_size, embedding_dim)
        self.rnn = make_recurrent(cell, embedding_dim, hidden_size, num_layers, dropout)
        self.head = Linear(hidden_size, vocab_size)
        name_parameters(self)

    def forward(self, ids: Tensor, state=None):
        output, state = self.rnn(self.embedding(ids), state)
        return self.head(output), state

    def extra_repr(self) -> str:
        return f"cell={self.config['cell']}"

    @no_grad()
    def generate(self, vocabulary: Vocabulary, prime: str = "\n", length: int = 200,
                 temperature: float = 1.0, top_k: int | None = None, seed: int | None = None) -> str:
        """``length`` symbols continuing ``prime``, drawn one at a time."""
        if not prime:
            raise ValueError("generate: prime must hold at least one symbol")
        was_training = self.training
        self.eval()
        rng = random.Random(seed)
        device = self.head.weight.device
        ids = vocabulary.encode(prime)
        logits, state = self(Tensor([ids], dtype="int64", device=device))
        out = []
        for _ in range(length):
            next_id = choose(logits[0, -1].tolist(), temperature, top_k, rng)
            out.append(next_id)
            logits, state = self(Tensor([[next_id]], dtype="int64", device=device), state)
        self.train(was_training)
        return vocabulary.decode(out)
