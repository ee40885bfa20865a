"""The applied demos (sentiment, pos, sunspots, cells), shortened: each must beat its baseline
on held-out data (the short sentiment run: chance, and come close to its baseline). Each
``..._check_fails_for_an_untrained_...`` test runs the same short demo with a learning rate
of zero and requires the same check to fail, so no check passes whatever the model does."""
import pytest

from tinygrad_rnn.demos import cells, pos, sentiment, sunspots


def quiet(*args):
    pass


# ---------------------------------------------------------------- sunspots
def sunspots_short(lr=0.003, **options):
    return sunspots.run(steps=150, lr=lr, log=quiet, **options)


def sunspots_learned(result) -> bool:
    """One-year-ahead test RMSE at most 80% of persistence's (the full run reaches ~55%)."""
    return result["test_rmse"] < 0.8 * result["persistence_rmse"]


def test_sunspots_gru_beats_persistence_on_the_last_40_years(tmp_path):
    result = sunspots_short(out=str(tmp_path))
    assert sunspots_learned(result), result
    assert result["success"]
    assert (tmp_path / "sunspots_forecast.png").stat().st_size > 10_000


def test_sunspots_check_fails_for_an_untrained_gru():
    result = sunspots_short(lr=0.0)
    assert not sunspots_learned(result) and not result["success"], result


# ---------------------------------------------------------------- pos
def pos_short(lr=0.005):
    return pos.run(steps=300, evaluate_every=100, lr=lr, log=quiet)


def pos_learned(result) -> bool:
    """Test token accuracy at least 2 points above most-frequent-tag (~81%); the full run
    reaches ~90%."""
    return result["test_accuracy"] > result["baseline_accuracy"] + 0.02


@pytest.mark.slow
def test_pos_bilstm_beats_most_frequent_tag_on_the_test_split():
    result = pos_short()
    assert pos_learned(result), result
    assert result["unseen_word_accuracy"] > result["baseline_unseen_word_accuracy"] + 0.15


@pytest.mark.slow
def test_pos_check_fails_for_an_untrained_tagger():
    assert not pos_learned(pos_short(lr=0.0))


# ---------------------------------------------------------------- sentiment
def sentiment_short(lr=0.002):
    return sentiment.run(steps=1000, evaluate_every=100, bow_steps=100, lr=lr, log=quiet)


def sentiment_learned(result) -> bool:
    """A third of the full run is too short to match the bag of words reliably (~78% here,
    bag of words ~82%): it must clearly beat chance (50%, balanced classes) and come within 8
    points of the bag of words."""
    return (result["test_accuracy"] > 0.72
            and result["test_accuracy"] > result["baseline_accuracy"] - 0.08)


@pytest.mark.slow
def test_sentiment_lstm_learns_and_bag_of_words_baseline_is_sound():
    result = sentiment_short()
    assert sentiment_learned(result), result
    assert result["baseline_accuracy"] > 0.75, result


@pytest.mark.slow
def test_sentiment_check_fails_for_an_untrained_lstm():
    assert not sentiment_learned(sentiment_short(lr=0.0))


# ---------------------------------------------------------------- cells
def cells_short(lr=2e-3, out=None):
    return cells.run(steps=60, hidden=64, lr=lr, held_out_chars=6000, rows=10, out=out,
                     log=quiet)


def cells_learned(result) -> bool:
    """The best position-in-line unit (chosen on one half of the held-out text, measured on
    the other) correlates clearly better once trained: |r| ~0.75 after 60 steps, ~0.3 for
    the untrained network."""
    return (result["position_r"] > 0.5
            and result["position_r"] > result["position_r_untrained"] + 0.2)


@pytest.mark.slow
def test_cells_a_trained_unit_tracks_the_position_in_the_line(tmp_path):
    result = cells_short(out=str(tmp_path))
    assert cells_learned(result) and result["success"], result
    html = (tmp_path / "cells.html").read_text(encoding="utf-8")
    assert html.count("<span") > 4 * 1000 and "position in line" in html
    assert (tmp_path / "cells_position.png").stat().st_size > 10_000


@pytest.mark.slow
def test_cells_check_fails_for_an_untrained_network():
    result = cells_short(lr=0.0)
    assert not cells_learned(result) and not result["success"], result
