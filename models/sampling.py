"""Sampling text from a language model: temperature and top-k.

p_i = softmax(z / temperature)_i, restricted to the k most likely symbols when ``top_k``
is set. Temperature < 1 sharpens the distribution (safer, more repetitive text), > 1
flattens it (more surprising text); temperature 0 means greedy (argmax).
"""
from __future__ import annotations

import math
import random


def choose(logits: list[float], temperature: float = 1.0, top_k: int | None = None,
           rng: random.Random | None = None) -> int:
    """One symbol id drawn from the logits of one position (a list of floats)."""
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if temperature == 0:
        return max(range(len(logits)), key=logits.__getitem__)
    candidates = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
    if top_k is not None:
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        candidates = candidates[:top_k]
    scaled = [logits[i] / temperature for i in candidates]
    peak = max(scaled)
    weights = [math.exp(s - peak) for s in scaled]
    return (rng or random).choices(candidates, weights=weights)[0]
