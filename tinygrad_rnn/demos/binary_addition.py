"""Binary addition, many-to-many: an RNN adds two 8-bit numbers, one bit pair per step.

Bits go in lowest first, so the carry flows forward in time: at step t the input is
x_t = (a_t, b_t) and the target is s_t, the t-th bit of a + b. Operands lie in [0, 128),
so every sum fits in 8 bits.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     (hidden 16)
    p_t = sigmoid(w^T h_t + c)                             (probability that s_t = 1)

Trained one example at a time (binary cross-entropy); measured by exact-match accuracy
over all 128 x 128 operand pairs.
"""
from __future__ import annotations

import random

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models import RNNCell

BITS = 8


def to_bits(value: int) -> list[float]:
    return [float((value >> t) & 1) for t in range(BITS)]


class Adder(nn.Module):
    def __init__(self, hidden_size: int = 16):
        super().__init__()
        self.hidden_size = hidden_size
        self.cell = RNNCell(2, hidden_size)
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, pairs):
        """Logits (B, 8) of the sum's bits, from operand bits of shape (B, 8, 2)."""
        h = tg.zeros(pairs.shape[0], self.hidden_size, device=pairs.device)
        logits = []
        for t in range(BITS):
            with tg.scope(f"t={t}"):
                h = self.cell(pairs[:, t], h)
                logits.append(self.readout(h))
        return tg.cat(logits, dim=1)


def all_pairs(device: str):
    a = [i for i in range(128) for _ in range(128)]
    b = [j for _ in range(128) for j in range(128)]
    x = tg.Tensor([[[ta, tb] for ta, tb in zip(to_bits(i), to_bits(j))] for i, j in zip(a, b)],
                  device=device)
    y = tg.Tensor([to_bits(i + j) for i, j in zip(a, b)], device=device)
    return x, y


@tg.no_grad()
def exact_match(model: Adder, x, y) -> float:
    predicted = model(x).data > 0
    return float((predicted == (y.data > 0.5)).all(axis=1).mean())


def run(steps: int = 10_000, hidden: int = 16, lr: float = 0.5, seed: int = 0,
        device: str = "cpu", out: str | None = None, log=print) -> dict:
    tg.manual_seed(seed)
    rng = random.Random(seed)
    model = Adder(hidden).to(device)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    x_all, y_all = all_pairs(device)
    accuracy, reached_at = 0.0, None
    for step in range(1, steps + 1):
        i, j = rng.randrange(128), rng.randrange(128)
        x = tg.Tensor([[[ta, tb] for ta, tb in zip(to_bits(i), to_bits(j))]], device=device)
        y = tg.Tensor([to_bits(i + j)], device=device)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 500 == 0 or step == steps:
            accuracy = exact_match(model, x_all, y_all)
            log(f"step {step}: exact-match accuracy over all 16,384 pairs {accuracy:.2%}")
            if accuracy >= 0.99 and reached_at is None:
                reached_at = step
                break
    a, b = 87, 39
    guess = model(tg.Tensor([[[ta, tb] for ta, tb in zip(to_bits(a), to_bits(b))]], device=device))
    total = sum(1 << t for t, bit in enumerate((guess.data > 0)[0]) if bit)
    log(f"{a} + {b} = {total} (true {a + b})")
    return {"accuracy": accuracy, "steps": reached_at or steps, "success": accuracy >= 0.99}
