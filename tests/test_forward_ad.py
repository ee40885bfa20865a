"""Forward mode (tg.forward_ad): every primitive's JVP, on the cases of test_op_gradients.

For every case of the ``@case`` registry (hypothesis-drawn shapes and float64 values):

* ``test_jvp_matches_central_differences``: the tangent pushed through ``f`` in one forward
  pass equals (f(x + eps v) - f(x - eps v)) / (2 eps);
* ``test_jvp_is_the_transpose_of_the_vjp``: <u, J v> from the JVP equals <J^T u, v> from
  backward (both exact, so they agree to rounding);
* ``test_forward_over_reverse`` (smooth cases): the tangent of backward's gradient is the
  Hessian-vector product that reverse-over-reverse gives.

``test_every_primitive_op_has_a_jvp`` fails when an op in ``tinygrad_rnn.ops`` has none.
"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.function import Function
from tinygrad_rnn.ops import xp_of
from strategies import REPEATABLE
from test_op_gradients import ALL, CASES, SMOOTH, _as_tuple, _tensors

fwd = tg.forward_ad

# Tangent entries are halves (never 0): with the cast case's eps = 2^-10 on a 2^-8 grid,
# x +- eps v stays exactly representable in float32, so its differences are exact too.
_HALVES = np.array([-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0])


def _directions(shapes, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.choice(_HALVES, size=shape) for shape in shapes]


def _floating(outputs) -> list:
    return [o for o in outputs if isinstance(o, tg.Tensor) and o.dtype.kind == "f"]


def _push(f, inputs, directions, device):
    """Outputs of f at the dual inputs, and their tangents as arrays (zeros when absent)."""
    duals = [fwd.make_dual(x, tg.Tensor(v, dtype="float64", device=device))
             for x, v in zip(inputs, directions)]
    outputs = _floating(_as_tuple(f(*duals)))
    tangents = []
    for o in outputs:
        t = fwd.unpack_dual(o).tangent
        tangents.append(np.zeros(o.shape) if t is None else t.detach().numpy())
        assert t is None or t.shape == o.shape, f"tangent {t.shape} for output {o.shape}"
    return outputs, tangents


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=60, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_jvp_matches_central_differences(device, name, data):
    example = data.draw(CASES[name].examples, label=name)
    f = example.build(device)
    directions = _directions([a.shape for a in example.inputs], seed=len(example.inputs))
    with fwd.dual_level():
        _, analytic = _push(f, _tensors(example, device), directions, device)
    eps = example.tolerance.get("eps", 1e-6)

    def at(sign):
        moved = [tg.Tensor(a + sign * eps * v, dtype="float64", device=device)
                 for a, v in zip(example.inputs, directions)]
        with tg.no_grad():
            return [o.detach().numpy() for o in _floating(_as_tuple(f(*moved)))]
    numeric = [(p - m) / (2 * eps) for p, m in zip(at(1.0), at(-1.0))]
    for k, (got, want) in enumerate(zip(analytic, numeric)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5,
                                   err_msg=f"{name}: tangent of output {k}")


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=40, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_jvp_is_the_transpose_of_the_vjp(device, name, data):
    example = data.draw(CASES[name].examples, label=name)
    inputs = _tensors(example, device)
    directions = _directions([a.shape for a in example.inputs], seed=7)
    with fwd.dual_level():
        outputs, jv = _push(example.build(device), inputs, directions, device)
    rng = np.random.default_rng(3)
    seeds = [rng.standard_normal(o.shape) for o in outputs]
    live = [(o, tg.Tensor(u, device=device)) for o, u in zip(outputs, seeds) if o.requires_grad]
    jtu = (tg.grad([o for o, _ in live], inputs, grad_outputs=[u for _, u in live],
                   allow_unused=True) if live else [None] * len(inputs))
    left = sum(float((u * t).sum()) for u, t in zip(seeds, jv))
    right = sum(0.0 if g is None else float((g.detach().numpy() * v).sum())
                for g, v in zip(jtu, directions))
    scale = 1.0 + sum(float(np.abs(u * t).sum()) for u, t in zip(seeds, jv))
    rounding = 1e-6 if example.tolerance else 1e-10      # the cast case goes through float32
    assert abs(left - right) <= rounding * scale, f"{name}: <u, Jv> = {left}, <J^T u, v> = {right}"


@pytest.mark.parametrize("name", SMOOTH)
@settings(max_examples=15, deadline=None, **REPEATABLE)
@given(data=st.data())
def test_forward_over_reverse(device, name, data):
    """H v as the tangent of the gradient (forward over reverse) equals d<grad f, v>/dx
    (reverse over reverse), for f_u(x) = sum_k <u_k, f_k(x)>."""
    example = data.draw(CASES[name].examples, label=name)
    f = example.build(device)
    directions = _directions([a.shape for a in example.inputs], seed=11)
    rng = np.random.default_rng(5)

    def projected(*xs):
        outs = [o for o in _floating(_as_tuple(f(*xs))) if o.requires_grad]
        return outs, sum((o * tg.Tensor(rng_seeds[k], device=device)).sum()
                         for k, o in enumerate(outs))
    shapes = [o.shape for o in _floating(_as_tuple(f(*_tensors(example, device))))]
    rng_seeds = [rng.standard_normal(s) for s in shapes]

    inputs = _tensors(example, device)
    outs, total = projected(*inputs)
    if not outs:
        return
    grads = tg.grad(total, inputs, create_graph=True, allow_unused=True)
    pairs = [(g * tg.Tensor(v, device=device)).sum() for g, v in zip(grads, directions)
             if g is not None and g.requires_grad]
    expected = (tg.grad(sum(pairs), inputs, allow_unused=True) if pairs
                else [None] * len(inputs))

    with fwd.dual_level():
        inputs = _tensors(example, device)
        duals = [fwd.make_dual(x, tg.Tensor(v, device=device))
                 for x, v in zip(inputs, directions)]
        _, total = projected(*duals)
        got = tg.grad(total, duals, allow_unused=True)
        got = [None if g is None else fwd.unpack_dual(g).tangent for g in got]
    for i, (g, e) in enumerate(zip(got, expected)):
        g = np.zeros(example.inputs[i].shape) if g is None else g.detach().numpy()
        e = np.zeros(example.inputs[i].shape) if e is None else e.detach().numpy()
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-10,
                                   err_msg=f"{name}: Hv of input {i}")


def _primitive_classes() -> list:
    import tinygrad_rnn.ops as ops
    for module in pkgutil.iter_modules(ops.__path__):
        importlib.import_module(f"{ops.__name__}.{module.name}")
    found, stack = [], list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(ops.__name__ + "."):
            found.append(cls)
    return found


def test_every_primitive_op_has_a_jvp():
    missing = sorted(c.__name__ for c in _primitive_classes() if c.jvp is Function.jvp)
    assert not missing, f"primitive ops with no JVP: {missing}"
    undocumented = sorted(c.__name__ for c in _primitive_classes() if not c.jvp.__doc__)
    assert not undocumented, f"JVPs without their formula in the docstring: {undocumented}"


# --------------------------------------------------------------- the dual-number API

def test_dual_numbers_as_torch():
    p = tg.tensor([0.5, -1.0, 2.0], dtype="float64")
    v = tg.tensor([1.0, 2.0, -1.0], dtype="float64")
    with fwd.dual_level():
        x = fwd.make_dual(p, v)
        y = (x * x).sin()
        primal, tangent = fwd.unpack_dual(y)
        np.testing.assert_allclose(tangent.detach().numpy(), np.cos(p.detach().numpy() ** 2) * 2 * p.detach().numpy()
                                   * v.detach().numpy())
        np.testing.assert_allclose(primal.detach().numpy(), np.sin(p.detach().numpy() ** 2))
        assert fwd.unpack_dual(primal).tangent is None
        assert fwd.unpack_dual(p).tangent is None          # p itself stays a plain tensor
    assert fwd.unpack_dual(y).tangent is None               # leaving the level drops tangents


def test_dual_level_errors():
    p = tg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="dual_level"):
        fwd.make_dual(p, p)
    with fwd.dual_level():
        with pytest.raises(ValueError, match=r"tangent has shape \(3,\).*tensor has shape \(2,\)"):
            fwd.make_dual(p, tg.tensor([1.0, 2.0, 3.0]))
        with pytest.raises(RuntimeError, match="nested"):
            with fwd.dual_level():
                pass


def test_tangents_flow_through_in_place_writes():
    """A hand-written RNN loop writing outputs[t] = h keeps the tangents (no grad mode)."""
    p = tg.tensor([0.3, -0.2], dtype="float64")
    v = tg.tensor([1.0, 0.5], dtype="float64")
    with fwd.dual_level():
        h = fwd.make_dual(p, v)
        outputs = tg.zeros(3, 2, dtype="float64")
        for t in range(3):
            h = (h * 1.5).tanh()
            outputs[t] = h
        outputs *= 2.0
        tangent = fwd.unpack_dual(outputs.sum()).tangent
    eps = 1e-6

    def run(x):
        total = 0.0
        for _ in range(3):
            x = np.tanh(x * 1.5)
            total += 2 * x.sum()
        return total
    numeric = (run(p.detach().numpy() + eps * v.detach().numpy()) - run(p.detach().numpy() - eps * v.detach().numpy())) / (2 * eps)
    assert abs(tangent.item() - numeric) < 1e-6


def test_reverse_over_forward():
    """The tangent is built from recorded ops, so d(J v)/dv = J^T and d(Jv)/dp both work."""
    p = tg.tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    v = tg.tensor([1.0, -1.0], dtype="float64", requires_grad=True)
    with fwd.dual_level():
        jv = fwd.unpack_dual((fwd.make_dual(p, v) ** 3).sum()).tangent
    gp, gv = tg.grad(jv, [p, v])
    np.testing.assert_allclose(gv.detach().numpy(), 3 * p.detach().numpy() ** 2)
    np.testing.assert_allclose(gp.detach().numpy(), 6 * p.detach().numpy() * v.detach().numpy())


class _BrokenTanh(Function):
    """tanh with a wrong JVP (1 + y^2), right VJP."""
    name = "broken_tanh"

    def forward(self, x):
        return xp_of(x).tanh(x)

    def backward(self, gy, y):
        return (gy * (1 - y * y),)

    def jvp(self, tangents, y):
        """ty = tx * (1 + y^2): wrong on purpose."""
        return tangents[0] * (1 + y * y)


def test_the_checks_reject_a_wrong_jvp():
    """gradcheck(check_forward_ad=True) compares the JVP with central differences."""
    x = tg.tensor(np.linspace(-1.0, 1.0, 4), dtype="float64", requires_grad=True)
    assert tg.gradcheck(lambda x: _BrokenTanh().apply(x), x)
    with pytest.raises(tg.GradcheckError, match="forward"):
        tg.gradcheck(lambda x: _BrokenTanh().apply(x), x, check_forward_ad=True)


def test_an_op_without_a_jvp_says_so():
    class NoJvp(Function):
        name = "no_jvp"

        def forward(self, x):
            return x * 2

        def backward(self, gy, y):
            return (gy * 2,)
    with fwd.dual_level():
        x = fwd.make_dual(tg.tensor([1.0]), tg.tensor([1.0]))
        with pytest.raises(NotImplementedError, match="no_jvp: this op has no forward-mode"):
            NoJvp().apply(x)


def test_fused_recurrent_layers_refuse_forward_mode_naming_fused_false():
    from tinygrad_rnn.models import LSTM
    layer = LSTM(3, 4).double()
    with fwd.dual_level():
        x = fwd.make_dual(tg.randn(5, 2, 3).double(), tg.randn(5, 2, 3).double())
        with pytest.raises(NotImplementedError, match="fused=False"):
            layer(x)


def test_an_lstm_cell_loop_in_forward_mode():
    """The composed recurrence (cells stepped by hand) pushes tangents: J v of the last h
    against central differences, and jacfwd = jacrev through 4 steps."""
    from tinygrad_rnn.models import LSTMCell
    tg.manual_seed(0)
    cell = LSTMCell(3, 4).double()
    x = tg.randn(4, 2, 3).double()

    def last_h(x):
        state = None
        for t in range(x.shape[0]):
            state = cell(x[t], state)
        return state[0]
    forward = tg.func.jacfwd(last_h)(x)
    np.testing.assert_allclose(forward.detach().numpy(), tg.func.jacrev(last_h)(x).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    v = tg.randn(4, 2, 3).double()
    _, jv = tg.func.jvp(last_h, (x,), (v,))
    eps = 1e-6
    with tg.no_grad():
        numeric = (last_h(x + v * eps).detach().numpy() - last_h(x - v * eps).detach().numpy()) / (2 * eps)
    np.testing.assert_allclose(jv.detach().numpy(), numeric, rtol=1e-6, atol=1e-8)
