"""Vocabulary, (B, T) windows for truncated BPTT, and sampling."""
import random

import pytest

from tinygrad_rnn.models import Vocabulary, batchify, bptt_windows, choose, window_count


def test_vocabulary_round_trip_and_unknowns():
    vocab = Vocabulary.from_text("hello")
    assert vocab.symbols == ["e", "h", "l", "o"] and vocab.decode(vocab.encode("hello")) == "hello"
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        vocab.encode("z")
    tokens = Vocabulary.from_tokens([["i", "am"], ["i", "go"]])
    assert tokens.encode(["i", "zzz"]) == [tokens.index["i"], tokens.index["<unk>"]]
    assert Vocabulary.from_dict(tokens.to_dict()).symbols == tokens.symbols


def test_windows_continue_each_row_and_targets_shift_by_one():
    ids = list(range(103))
    streams = batchify(ids, 4)                    # rows of 25: 0..24, 25..49, ...
    assert streams.shape == (4, 25) and streams[1, 0].item() == 25
    windows = list(bptt_windows(streams, 8))
    assert len(windows) == window_count(streams, 8) == 3
    x0, y0 = windows[0]
    x1, _ = windows[1]
    assert x0.shape == (4, 8) and (y0.numpy() == x0.numpy() + 1).all()
    assert x1[2, 0].item() == x0[2, -1].item() + 1   # row 2 of window 1 continues window 0


def test_windows_reject_impossible_lengths():
    with pytest.raises(ValueError, match="seq_len 30 is longer"):
        next(bptt_windows(batchify(list(range(100)), 4), 30))
    with pytest.raises(ValueError, match="cannot fill 10 rows"):
        batchify([1, 2, 3], 10)


def test_sampling_temperature_and_top_k():
    logits = [0.0, 2.0, 1.0, -1.0]
    assert choose(logits, temperature=0) == 1
    rng = random.Random(0)
    draws = [choose(logits, 1.0, top_k=2, rng=rng) for _ in range(500)]
    assert set(draws) == {1, 2}
    cold = [choose(logits, 0.1, rng=rng) for _ in range(200)]
    assert cold.count(1) > 190                       # low temperature: nearly greedy
    with pytest.raises(ValueError, match="top_k must be positive"):
        choose(logits, 1.0, top_k=0)
