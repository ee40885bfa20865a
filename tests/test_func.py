"""tg.func (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, hvp): checked against
central finite differences always, and against torch.autograd.functional where torch is
installed. The test functions use only operators and methods tg and torch share, so the same
code runs on both."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from strategies import REPEATABLE, arrays

F = tg.func
HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3))


def mixer(lib):
    """R^3 -> R^4 (or (k, 3) -> (k, 4)): y = tanh(x W^T) * sin(x).sum() + x[..., :1] ** 2."""
    w = lib.tensor(W, dtype=_f64(lib))

    def f(x):
        return (x @ w.T).tanh() * x.sin().sum() + x[..., :1] ** 2
    return f


def two_args(lib):
    """(a, b) -> a * exp(b) summed with a product: a (3,), b (3,) -> (3,)."""
    def f(a, b):
        return a * b.exp() + (a * b).sum() * a
    return f


def scalar(lib):
    """R^3 -> R: a smooth non-quadratic function (its Hessian is dense)."""
    def f(x):
        return (x.sin() * x).sum() * (x * x).sum().sqrt() + (x[0] * x[1] * x[2]).exp()
    return f


def _f64(lib):
    return "float64" if lib is tg else getattr(lib, "float64")


def _t(x):
    return tg.tensor(x, dtype="float64")


def numeric_jacobian(f, args, argnum: int, eps: float = 1e-6) -> np.ndarray:
    """d f(args) / d args[argnum] by central differences, shape output.shape + input.shape."""
    base = args[argnum].detach().numpy()
    with tg.no_grad():
        out_shape = f(*args).shape
    columns = []
    for j in range(base.size):
        sides = []
        for sign in (1.0, -1.0):
            moved = base.copy().reshape(-1)
            moved[j] += sign * eps
            shifted = list(args)
            shifted[argnum] = _t(moved.reshape(base.shape))
            with tg.no_grad():
                sides.append(f(*shifted).detach().numpy())
        columns.append((sides[0] - sides[1]) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(out_shape + base.shape)


@settings(max_examples=10, deadline=None, **REPEATABLE)
@given(x=arrays((3,), -1.5, 1.5), batched=st.booleans())
def test_jacrev_and_jacfwd_match_finite_differences(x, batched):
    f = mixer(tg)
    point = _t(np.stack([x, x[::-1]]) if batched else x)
    expected = numeric_jacobian(f, [point], 0)
    reverse, forward = F.jacrev(f)(point), F.jacfwd(f)(point)
    assert reverse.shape == forward.shape == expected.shape
    np.testing.assert_allclose(reverse.detach().numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(forward.detach().numpy(), reverse.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_argnums_and_tuple_outputs():
    f = two_args(tg)
    a, b = _t([0.3, -0.7, 1.1]), _t([0.2, 0.5, -0.4])
    for transform in (F.jacrev, F.jacfwd):
        ja, jb = transform(f, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(ja.detach().numpy(), numeric_jacobian(f, [a, b], 0), rtol=1e-6)
        np.testing.assert_allclose(jb.detach().numpy(), numeric_jacobian(f, [a, b], 1), rtol=1e-6)
        np.testing.assert_allclose(transform(f, argnums=1)(a, b).detach().numpy(), jb.detach().numpy())
        both = transform(lambda a, b: (f(a, b), a.sum()), argnums=1)(a, b)
        assert isinstance(both, tuple) and both[1].shape == (3,)
        np.testing.assert_allclose(both[1].detach().numpy(), np.zeros(3))       # a.sum() ignores b


def test_grad_grad_and_value_and_aux():
    f = scalar(tg)
    x = _t([0.4, -0.3, 0.8])
    g = F.grad(f)(x)
    np.testing.assert_allclose(g.detach().numpy(), numeric_jacobian(f, [x], 0), rtol=1e-6)
    g2, value = F.grad_and_value(f)(x)
    np.testing.assert_allclose(g2.detach().numpy(), g.detach().numpy())
    assert value.item() == pytest.approx(f(x).item())
    g3, aux = F.grad(lambda x: (f(x), x * 2), has_aux=True)(x)
    np.testing.assert_allclose(g3.detach().numpy(), g.detach().numpy())
    np.testing.assert_allclose(aux.detach().numpy(), 2 * x.detach().numpy())
    assert not x.requires_grad and x.grad is None         # the caller's tensor is untouched
    with pytest.raises(ValueError, match="one-element"):
        F.grad(lambda x: x * 2)(x)
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        F.grad(f, argnums=2)(x)


def test_vjp_and_jvp_match_the_jacobian():
    f = mixer(tg)
    x = _t([0.2, -0.9, 0.6])
    jacobian = numeric_jacobian(f, [x], 0)
    u, v = _t(RNG.standard_normal(4)), _t(RNG.standard_normal(3))
    y, vjp_fn = F.vjp(f, x)
    (ju,) = vjp_fn(u)
    np.testing.assert_allclose(ju.detach().numpy(), u.detach().numpy() @ jacobian, rtol=1e-6)
    np.testing.assert_allclose(vjp_fn(u)[0].detach().numpy(), ju.detach().numpy())      # vjp_fn can run again
    y2, jv = F.jvp(f, (x,), (v,))
    np.testing.assert_allclose(jv.detach().numpy(), jacobian @ v.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.detach().numpy(), y2.detach().numpy())
    with pytest.raises(ValueError, match=r"cotangent of shape \(3,\)"):
        vjp_fn(v)


def test_hessian_and_hvp():
    f = scalar(tg)
    x = _t([0.4, -0.3, 0.8])
    expected = numeric_jacobian(F.grad(f), [x], 0)
    hessian = F.hessian(f)(x)
    np.testing.assert_allclose(hessian.detach().numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(F.jacrev(F.jacrev(f))(x).detach().numpy(), hessian.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.jacrev(F.jacfwd(f))(x).detach().numpy(), hessian.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.grad(lambda x: F.grad(f)(x).sum())(x).detach().numpy(),
                               hessian.detach().numpy().sum(axis=0), rtol=1e-12)
    v = _t([1.0, -2.0, 0.5])
    value, product = F.hvp(f, x, v)
    np.testing.assert_allclose(product.detach().numpy(), hessian.detach().numpy() @ v.detach().numpy(), rtol=1e-12)
    assert value.item() == pytest.approx(f(x).item())
    with pytest.raises(RuntimeError, match="cannot nest"):
        F.jacfwd(F.jacfwd(f))(x)


def test_newton_method_example():
    """DeZero's steps 29/33: Newton's method x <- x - H^-1 grad f finds the minimum of
    f(x) = x^4 - 2 x^2 from x = 2 in a few steps, and of a 2-D function with F.hessian."""
    spec = importlib.util.spec_from_file_location(
        "newton", Path(__file__).resolve().parents[1] / "examples" / "newton.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    newton, rosenbrock = example.newton, example.rosenbrock
    path = newton(lambda x: (x ** 4 - 2 * x ** 2).sum(), _t([2.0]), steps=7)
    assert abs(path[-1][0] - 1.0) < 1e-10
    assert [round(p[0], 6) for p in path[:3]] == [2.0, 1.454545, 1.151047]
    minimum = newton(rosenbrock, _t([-1.2, 1.0]), steps=30)[-1]
    np.testing.assert_allclose(minimum, [1.0, 1.0], atol=1e-8)


# ---------------------------------------------------------------- against torch

@needs_torch
def test_against_torch_autograd_functional():
    import torch
    import torch.autograd.functional as TF
    x = np.array([0.2, -0.9, 0.6])
    u, v = RNG.standard_normal(4), RNG.standard_normal(3)
    tx = torch.tensor(x, dtype=torch.float64)
    ours, theirs = mixer(tg), mixer(torch)
    np.testing.assert_allclose(F.jacrev(ours)(_t(x)).detach().numpy(), TF.jacobian(theirs, tx).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.jacfwd(ours)(_t(x)).detach().numpy(),
                               torch.func.jacfwd(theirs)(tx).detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.vjp(ours, _t(x))[1](_t(u))[0].detach().numpy(),
                               TF.vjp(theirs, tx, torch.tensor(u))[1].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.jvp(ours, (_t(x),), (_t(v),))[1].detach().numpy(),
                               TF.jvp(theirs, tx, torch.tensor(v))[1].detach().numpy(), rtol=1e-12)
    s_ours, s_theirs = scalar(tg), scalar(torch)
    np.testing.assert_allclose(F.hessian(s_ours)(_t(x)).detach().numpy(),
                               TF.hessian(s_theirs, tx).detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.hvp(s_ours, _t(x), _t(v))[1].detach().numpy(),
                               TF.hvp(s_theirs, tx, torch.tensor(v))[1].detach().numpy(), rtol=1e-12)
    a, b = np.array([0.3, -0.7, 1.1]), np.array([0.2, 0.5, -0.4])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for got, want in zip(F.jacrev(two_args(tg), argnums=(0, 1))(_t(a), _t(b)),
                         TF.jacobian(two_args(torch), (ta, tb))):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)


@needs_torch
def test_against_torch_func_grad():
    import torch
    x = np.array([0.4, -0.3, 0.8])
    np.testing.assert_allclose(F.grad(scalar(tg))(_t(x)).detach().numpy(),
                               torch.func.grad(scalar(torch))(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
