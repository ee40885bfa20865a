"""Helpers shared by the applied demos (sentiment, pos, sunspots, cells): keeping the best
model seen on validation data, batching sequences of equal length, and optional matplotlib."""
from __future__ import annotations

import random
from collections import defaultdict

PLOT_HINT = "pip install 'tinygrad_rnn[plot]'   (or: pip install matplotlib)"


def snapshot(model) -> dict:
    """A copy of every parameter and buffer (``restore`` puts them back)."""
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def restore(model, state: dict) -> None:
    model.load_state_dict(state)


def same_length_batches(lengths: list[int], batch_size: int, rng: random.Random | None = None):
    """Index batches in which every sequence has the same length, so a (bidirectional)
    recurrent layer needs no padding and no mask: the reverse direction of a padded batch
    would read the padding before the words. Shuffled when ``rng`` is given."""
    by_length = defaultdict(list)
    for i, n in enumerate(lengths):
        by_length[n].append(i)
    batches = []
    for n in sorted(by_length):
        indices = by_length[n]
        if rng is not None:
            rng.shuffle(indices)
        batches += [indices[k:k + batch_size] for k in range(0, len(indices), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pyplot(log):
    """matplotlib.pyplot with the file-only Agg backend, or None (after saying how to get it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log(f"(matplotlib is not installed, so no PNG picture; to get one: {PLOT_HINT})")
        return None
    return plt
