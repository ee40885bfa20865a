"""The NumPy backend's float32 erf (array operations, not math.erf per element) against
math.erf: at most 3 float32 ulps everywhere, signs, zeros, infinities and NaN as math.erf."""
import math

import numpy as np
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.backends.numpy_backend import erf_float32


def _ulps(got, x):
    exact = np.array([math.erf(float(v)) for v in np.asarray(x, np.float64).ravel()])
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(np.asarray(got, np.float64).ravel() - exact) / np.maximum(spacing, 1e-45)


def test_within_three_ulps_on_a_dense_grid_and_over_every_scale():
    x = np.concatenate([np.linspace(-6, 6, 200_001), np.logspace(-30, 1, 20_000),
                        -np.logspace(-30, 1, 20_000)]).astype(np.float32)
    assert _ulps(erf_float32(x), x).max() <= 3


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-10, 10, width=32), min_size=1, max_size=40_000))
def test_within_three_ulps_for_drawn_values_across_chunks(values):
    x = np.array(values, np.float32)            # up to 40,000: more than one chunk of 16,384
    assert _ulps(erf_float32(x), x).max() <= 3


def test_special_values_and_shapes():
    x = np.array([[0.0, -0.0, np.inf], [-np.inf, np.nan, 1e-40]], np.float32)
    got = erf_float32(x)
    assert got.shape == (2, 3) and got.dtype == np.float32
    assert got[0, 0] == 0 and math.copysign(1, got[0, 1]) == -1
    assert got[0, 2] == 1 and got[1, 0] == -1 and np.isnan(got[1, 1])
    assert erf_float32(np.zeros((0, 4), np.float32)).shape == (0, 4)


def test_tensor_erf_and_gelu_use_it_in_float32_and_math_erf_in_float64():
    x = np.linspace(-4, 4, 101)
    np.testing.assert_array_equal(tg.tensor(x, dtype="float32").erf().numpy(),
                                  erf_float32(x.astype(np.float32)))
    exact = np.array([math.erf(v) for v in x])
    np.testing.assert_array_equal(tg.tensor(x, dtype="float64").erf().numpy(), exact)


def test_gelu_of_integers_gives_the_default_float_dtype_as_the_other_ops():
    import tinygrad_rnn.functional as F
    y = F.gelu(tg.tensor(np.arange(-3, 4)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [v * 0.5 * (1 + math.erf(v / math.sqrt(2)))
                                           for v in range(-3, 4)], rtol=1e-6, atol=1e-7)
