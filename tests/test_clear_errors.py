"""Mistakes that used to give a confusing error (or none): each now names the operation and
the value at fault, with PyTorch's exception type."""
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim


def test_transpose_out_of_range_names_the_valid_range():
    with pytest.raises(IndexError, match=r"transpose: Dimension out of range \(expected to be "
                       r"in range of \[-2, 1\], but got 5\)"):
        tg.randn(2, 3).transpose(0, 5)
    assert tg.randn(2, 3).transpose(-1, 0).shape == (3, 2)


def test_chunk_of_zero_pieces():
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0, got: 0"):
        tg.randn(4).chunk(0)
    assert [c.shape for c in tg.randn(5).chunk(2)] == [(3,), (2,)]


def test_linear_with_a_negative_size():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        nn.Linear(-1, 3)
    with pytest.raises(TypeError, match="in_features must be an int, got float"):
        nn.Linear(2.5, 3)


@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr="0.1"), "SGD: lr must be a number, got str '0.1'"),
    (lambda ps: optim.Adam(ps, lr=float("nan")), "invalid learning rate nan"),
    (lambda ps: optim.Adam(ps, betas=("0.9", 0.99)), "betas must be a pair of numbers"),
])
def test_optimizer_hyper_parameters_that_are_not_numbers(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make([nn.Parameter(tg.randn(2))])


def test_a_string_learning_rate_is_refused_but_a_groups_own_keys_are_not():
    with pytest.raises(TypeError, match="SGD: lr must be a number"):
        optim.SGD([{"params": [nn.Parameter(tg.randn(2))], "name": "encoder"}], lr="1e-3")
    opt = optim.SGD([{"params": [nn.Parameter(tg.randn(2))], "name": "encoder"}], lr=0.1)
    assert opt.param_groups[0]["name"] == "encoder"


def test_random_tensors_in_half_precision():
    assert tg.randn(2, 3, dtype=tg.float16).dtype == "float16"
    assert tg.rand(4, dtype="float16").dtype == "float16"
    with pytest.raises(TypeError, match="needs a floating dtype"):
        tg.randn(2, dtype="int64")


def test_sampling_temperature_nan_is_named():
    from tinygrad_rnn.models import choose
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        choose([0.1, 0.2], temperature=float("nan"))


def test_load_state_dict_shape_mismatch_is_pytorchs_runtime_error():
    layer = nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as error:
        layer.load_state_dict({"weight": tg.zeros(3, 2), "bias": tg.zeros(3)})
    assert str(error.value) == ("Error(s) in loading state_dict for Linear:\n\tsize mismatch for "
                                "weight: copying a param with shape (3, 2) from checkpoint, the "
                                "shape in current model is (3, 4).")


def test_gradflow_with_no_hidden_units_is_one_line(tmp_path):
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "gradflow", "--hidden", "0",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "--hidden must be positive, got 0" in result.stderr
    assert not (tmp_path / "out").exists()
