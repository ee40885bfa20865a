"""'hello': the smallest character-level RNN of the lecture notes.

Vocabulary [h, e, l, o], one-hot inputs x_t; an RNN reads "hell" and must predict
"ello", one symbol ahead:

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    y_t = softmax(W_hy h_t + b_y)

The two l's need memory: after the first 'l' comes 'l', after the second 'o', so only the
hidden state can tell them apart.
"""
from __future__ import annotations

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models import RNNCell, Vocabulary


class HelloRNN(nn.Module):
    def __init__(self, vocab_size: int = 4, hidden_size: int = 8):
        super().__init__()
        self.cell = RNNCell(vocab_size, hidden_size)
        self.readout = nn.Linear(hidden_size, vocab_size)
        self.hidden_size = hidden_size

    def forward(self, one_hot_steps, h=None):
        """Logits for every step of a (T, B, vocab) one-hot sequence, and the last state."""
        if h is None:
            h = tg.zeros(one_hot_steps.shape[1], self.hidden_size, device=one_hot_steps.device)
        logits = []
        for t in range(one_hot_steps.shape[0]):
            with tg.scope(f"t={t}"):
                h = self.cell(one_hot_steps[t], h)
                logits.append(self.readout(h))
        return tg.stack(logits), h


def run(steps: int = 300, hidden: int = 8, lr: float = 0.05, seed: int = 0, device: str = "cpu",
        out: str | None = None, log=print) -> dict:
    tg.manual_seed(seed)
    vocab = Vocabulary(["h", "e", "l", "o"])
    inputs = F.one_hot(tg.Tensor(vocab.encode("hell"), device=device), 4).float()[:, None, :]
    targets = tg.Tensor(vocab.encode("ello"), device=device)
    model = HelloRNN(4, hidden).to(device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss = None
    for step in range(1, steps + 1):
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(4, 4), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(steps // 5, 1) == 0:
            log(f"step {step}: loss {loss.item():.4f}, predicts {spell(model, vocab, device)!r}")
    result = spell(model, vocab, device)
    log(f"from 'h' the model spells {result!r}")
    return {"spelled": result, "loss": loss.item(), "success": result == "hello"}


@tg.no_grad()
def spell(model: HelloRNN, vocab: Vocabulary, device: str, length: int = 4) -> str:
    """Start from 'h' and feed each greedy prediction back in."""
    text, h = "h", None
    for _ in range(length):
        step = F.one_hot(tg.Tensor(vocab.encode(text[-1]), device=device), 4).float()[:, None, :]
        logits, h = model(step, h)
        text += vocab.decode([int(logits[-1, 0].argmax().item())])
    return text
