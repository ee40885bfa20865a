"""The lecture's examples, each a function ``run(...) -> dict of metrics`` that trains on
real (bundled or generated) data and prints what it learns; ``tinygrad-rnn demo NAME``
runs them."""
from __future__ import annotations

from importlib import import_module

# name -> (module, one-line description)
DEMOS = {
    "hello": ("hello", "4-letter vocabulary [h, e, l, o]: an RNN learns to spell 'hello'"),
    "binary_addition": ("binary_addition", "many-to-many: add two 8-bit numbers bit by bit"),
    "korean": ("korean", "Korean alphabet continuation and autocomplete from '기'"),
    "charlm": ("charlm", "character-level LSTM on tiny-shakespeare vs 3-gram and 5-gram baselines"),
    "sentiment": ("sentiment", "many-to-one: BiLSTM review sentiment vs bag-of-words logistic regression"),
    "cells": ("cells", "interpretable LSTM cells: units that track position in line / speaker lines"),
    "pos": ("pos", "bidirectional LSTM part-of-speech tagger (UD English-EWT) vs most-frequent-tag"),
    "sunspots": ("sunspots", "GRU forecasts next year's sunspots; test RMSE vs persistence"),
    "translation": ("translation", "English -> French seq2seq with attention; BLEU vs word-by-word"),
    "captioning": ("captioning", "one-to-many: digit image -> its English name, attending to patches"),
    "bert": ("bert", "small BERT: masked-LM pre-training, then review sentiment vs from scratch and bag of words"),
}


def get(name: str):
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; choose one of {', '.join(DEMOS)}")
    return import_module(f".{DEMOS[name][0]}", __name__)
