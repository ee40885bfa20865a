"""docs/custom_function.md's recipe runs as written, and its checks can fail."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_rnn as tg
from strategies import REPEATABLE, arrays

PAGE = Path(__file__).resolve().parents[1] / "docs" / "custom_function.md"


def _run_page() -> dict:
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S):
        exec(compile(block, str(PAGE), "exec"), namespace)     # the page's own code
    return namespace


PAGE_CODE = _run_page()


def _t(values):
    return tg.tensor(values, dtype="float64", requires_grad=True)


def test_the_page_runs_and_its_hessian_is_right():
    a, b, H = PAGE_CODE["a"], PAGE_CODE["b"], PAGE_CODE["H"].detach().numpy()
    y = np.hypot(a.detach().numpy(), b.detach().numpy())
    # d^2 sqrt(a^2 + b^2) / da^2 = b^2 / y^3 on the diagonal (each a_i meets its own b_i)
    np.testing.assert_allclose(H, np.diag(b.detach().numpy() ** 2 / y ** 3), rtol=1e-12, atol=1e-15)


@settings(max_examples=25, deadline=None, **REPEATABLE)
@given(x=arrays((5,), -20.0, 20.0))
def test_logcosh_forward_and_all_derivatives(x):
    logcosh = PAGE_CODE["logcosh"]
    np.testing.assert_allclose(logcosh(_t(x)).detach().numpy(), np.log(np.cosh(x)), rtol=1e-12,
                               atol=1e-15)
    assert tg.gradcheck(logcosh, _t(x), check_forward_ad=True)
    assert tg.gradgradcheck(logcosh, _t(x))


@settings(max_examples=25, deadline=None, **REPEATABLE)
@given(a=arrays((3,), 0.2, 2.0), b=arrays((3,), -2.0, -0.2))
def test_hypot_forward_and_all_derivatives(a, b):
    hypot = PAGE_CODE["hypot"]
    assert tg.gradcheck(hypot, (_t(a), _t(b)), check_forward_ad=True)
    assert tg.gradgradcheck(hypot, (_t(a), _t(b)))
    jacobian = tg.func.jacfwd(hypot, argnums=(0, 1))(tg.tensor(a, dtype="float64"),
                                                    tg.tensor(b, dtype="float64"))
    np.testing.assert_allclose(jacobian[0].detach().numpy(), np.diag(a / np.hypot(a, b)), rtol=1e-12)


def test_the_checks_catch_the_mistakes_the_page_lists():
    LogCosh = PAGE_CODE["LogCosh"]
    x = _t([-1.5, 0.3, 2.0])

    class WrongJvp(LogCosh):
        def jvp(self, tangents, y):
            return tangents[0] * self.inputs[0].sigmoid()

    class ArrayBackward(LogCosh):
        def backward(self, gy, y):
            return (gy * tg.Tensor(np.tanh(self.inputs[0].detach().numpy())),)

    assert tg.gradcheck(lambda x: WrongJvp().apply(x), x)                 # reverse mode fine
    with pytest.raises(tg.GradcheckError, match="forward mode"):
        tg.gradcheck(lambda x: WrongJvp().apply(x), x, check_forward_ad=True)
    assert tg.gradcheck(lambda x: ArrayBackward().apply(x), x)
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(lambda x: ArrayBackward().apply(x), x)
