"""The applied demos (sentiment, pos, sunspots, cells), shortened: each must beat its baseline
on held-out data. The ``broken`` tests run the same short check with a learning rate of zero
and require it to fail, so none of the checks passes whatever the model does."""
import pytest

from tinygrad_rnn.demos import pos, sunspots


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
