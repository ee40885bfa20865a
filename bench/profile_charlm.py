"""One char-LM training step under tg.profile(): where the time and the memory go.

Embedding -> LSTM -> Linear head, cross-entropy, backward, Adam: the table is grouped by op
name (sorted by total time), then the bytes saved for backward per time step (composed, the
LSTM tags its steps t=0, t=1, ... with tg.scope; fused, the profiler splits the sweep's own
arrays by step under the same names).

    python bench/profile_charlm.py [--hidden 128] [--batch 16] [--seq-len 32] [--composed]
"""
from __future__ import annotations

import argparse

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn.models.char_lm import CharLM


def profile_step(vocab: int = 65, hidden: int = 128, batch: int = 16, seq_len: int = 32,
                 fused: bool = True, seed: int = 0):
    """Profile one training step (after one warm-up step); returns the profile."""
    tg.manual_seed(seed)
    model = CharLM(vocab, hidden_size=hidden)
    model.rnn.fused = fused
    optimizer = tg.optim.Adam(model.parameters(), lr=1e-3)
    ids = (tg.rand(batch, seq_len + 1) * vocab).long()
    x, y = ids[:, :-1], ids[:, 1:]

    def step():
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    step()
    with tg.profile() as prof:
        step()
    return prof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--composed", action="store_true", help="fused=False (the cell loop)")
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()
    prof = profile_step(hidden=args.hidden, batch=args.batch, seq_len=args.seq_len,
                        fused=not args.composed)
    print(prof.table(sort_by="total_time", row_limit=args.rows))
    memory = prof.memory_by_step()
    steps = [k for k in memory if k.startswith("t=")]
    print("\nsaved for backward per time step:",
          ", ".join(f"{k}: {memory[k] / 1024:.1f} KB" for k in steps[:3] + steps[-2:]),
          f"({len(steps)} steps; outside the steps: {memory.get('(no scope)', 0) / 1024:.1f} KB)")


if __name__ == "__main__":
    main()
