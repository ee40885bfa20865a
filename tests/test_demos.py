"""The lecture's examples, shortened, must still learn."""
import pytest

from tinygrad_rnn.demos import binary_addition, hello, korean


def quiet(*args):
    pass


def test_hello_spells_hello():
    result = hello.run(steps=300, log=quiet)
    assert result["spelled"] == "hello" and result["loss"] < 0.05


@pytest.mark.slow
def test_binary_addition_reaches_99_percent_on_all_pairs():
    result = binary_addition.run(steps=4000, log=quiet)
    assert result["accuracy"] >= 0.99, result
    assert result["steps"] <= 4000


@pytest.mark.slow
def test_korean_alphabet_continuation_and_autocomplete():
    assert korean.continuation(300, 0, "cpu", quiet) == 1.0
    assert korean.reversal(400, 0, "cpu", quiet, length=3) >= 0.95
    phrase, learned = korean.autocomplete(200, 0, "cpu", quiet, hidden=128, batch=16)
    assert phrase.startswith("기") and learned, phrase
