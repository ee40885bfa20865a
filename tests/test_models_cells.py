"""Recurrent cells and Highway: gradcheck, an independent float64 NumPy re-derivation of each
cell's equations (outputs, and gradients by central differences of the NumPy forward), and
PyTorch's cells when torch is importable."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import (GRUCell, Highway, LSTMCell, MUT1Cell, MUT2Cell, MUT3Cell,
                                 RNNCell)

import numpy_rnn_reference as ref

F64 = "float64"
I, H, B = 3, 4, 2


def _specs():
    """name -> (make the cell, its state shapes, call, the NumPy reference)."""
    return {
        "rnn_tanh": (lambda: RNNCell(I, H, dtype=F64), 1,
                     lambda p, x, h: (ref.rnn_cell(x, h, p["weight_ih"], p["weight_hh"],
                                                   p["bias_ih"], p["bias_hh"]),)),
        "rnn_relu": (lambda: RNNCell(I, H, nonlinearity="relu", dtype=F64), 1,
                     lambda p, x, h: (ref.rnn_cell(x, h, p["weight_ih"], p["weight_hh"],
                                                   p["bias_ih"], p["bias_hh"], "relu"),)),
        "rnn_nobias": (lambda: RNNCell(I, H, bias=False, dtype=F64), 1,
                       lambda p, x, h: (ref.rnn_cell(x, h, p["weight_ih"], p["weight_hh"]),)),
        "lstm": (lambda: LSTMCell(I, H, dtype=F64), 2,
                 lambda p, x, h, c: ref.lstm_cell(x, h, c, p["weight_ih"], p["weight_hh"],
                                                  p["bias_ih"], p["bias_hh"])),
        "gru": (lambda: GRUCell(I, H, dtype=F64), 1,
                lambda p, x, h: (ref.gru_cell(x, h, p["weight_ih"], p["weight_hh"],
                                              p["bias_ih"], p["bias_hh"]),)),
        "gru_reset_before": (lambda: GRUCell(I, H, reset_after=False, dtype=F64), 1,
                             lambda p, x, h: (ref.gru_cell(x, h, p["weight_ih"], p["weight_hh"],
                                                           p["bias_ih"], p["bias_hh"],
                                                           reset_after=False),)),
        "mut1": (lambda: MUT1Cell(H, H, dtype=F64), 1,
                 lambda p, x, h: (ref.mut_cell(1, x, h, p["weight_ih"], p["weight_hh"],
                                               p["bias"]),)),
        "mut2": (lambda: MUT2Cell(H, H, dtype=F64), 1,
                 lambda p, x, h: (ref.mut_cell(2, x, h, p["weight_ih"], p["weight_hh"],
                                               p["bias"]),)),
        "mut3": (lambda: MUT3Cell(I, H, dtype=F64), 1,
                 lambda p, x, h: (ref.mut_cell(3, x, h, p["weight_ih"], p["weight_hh"],
                                               p["bias"]),)),
    }


SPECS = _specs()


def _inputs(cell, states: int, rng):
    x = rng.standard_normal((B, cell.input_size))
    return [x] + [rng.standard_normal((B, H)) * 0.5 for _ in range(states)]


def _call(cell, tensors):
    x, *state = tensors
    if isinstance(cell, LSTMCell):
        return cell(x, tuple(state))
    return (cell(x, state[0]),)


@pytest.mark.parametrize("name", list(SPECS))
def test_cell_matches_numpy_equations_and_their_numeric_gradients(name):
    make, states, numpy_cell = SPECS[name]
    rng = np.random.default_rng(1)
    cell = make()
    arrays = _inputs(cell, states, rng)
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    outs = _call(cell, tensors)
    weights = [rng.standard_normal(o.shape) for o in outs]
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    loss.backward()

    params = {n: p.detach().numpy().copy() for n, p in cell.named_parameters()}
    copies = [a.copy() for a in arrays]
    expected = numpy_cell(params, *copies)
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-12)

    def numpy_loss():
        return sum(float((o * w).sum()) for o, w in zip(numpy_cell(params, *copies), weights))

    numeric = ref.numeric_gradients(numpy_loss, copies + list(params.values()))
    analytic = [t.grad.detach().numpy() for t in tensors] + [p.grad.detach().numpy() for p in cell.parameters()]
    for got, want in zip(analytic, numeric):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(SPECS))
def test_cell_gradcheck(name):
    make, states, _ = SPECS[name]
    rng = np.random.default_rng(2)
    cell = make()
    tensors = [tg.Tensor(a, requires_grad=True) for a in _inputs(cell, states, rng)]
    params = list(cell.parameters())
    assert tg.gradcheck(lambda *args: _call(cell, tensors), tensors + params)


def test_gru_reset_placement_changes_the_result():
    rng = np.random.default_rng(3)
    after, before = GRUCell(I, H, dtype=F64), GRUCell(I, H, reset_after=False, dtype=F64)
    before.load_state_dict(after.state_dict())
    x, h = tg.Tensor(rng.standard_normal((B, I))), tg.Tensor(rng.standard_normal((B, H)))
    assert np.abs(after(x, h).detach().numpy() - before(x, h).detach().numpy()).max() > 1e-3


def test_cells_default_to_a_zero_state_and_accept_unbatched_input():
    rng = np.random.default_rng(4)
    x = tg.Tensor(rng.standard_normal(I))
    for cell in (RNNCell(I, H), GRUCell(I, H), MUT3Cell(I, H)):
        h = cell(x)
        assert h.shape == (H,)
        np.testing.assert_allclose(h.detach().numpy(), cell(x, tg.zeros(H)).detach().numpy())
    h, c = LSTMCell(I, H)(x)
    assert h.shape == c.shape == (H,)


def test_parameters_are_named_shaped_and_initialised_as_pytorch():
    cell = LSTMCell(5, 7)
    shapes = {n: tuple(p.shape) for n, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (28, 5), "weight_hh": (28, 7), "bias_ih": (28,),
                      "bias_hh": (28,)}
    bound = 1 / math.sqrt(7)
    for p in cell.parameters():
        values = p.detach().numpy()
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound and values.std() > bound / 4
    assert {n: tuple(p.shape) for n, p in GRUCell(5, 7).named_parameters()}["weight_hh"] == (21, 7)
    assert {n: tuple(p.shape) for n, p in MUT2Cell(7, 7).named_parameters()} == {
        "weight_ih": (14, 7), "weight_hh": (21, 7), "bias": (21,)}


@pytest.mark.parametrize("cls", [MUT1Cell, MUT2Cell])
def test_mut1_and_mut2_need_input_size_equal_to_hidden_size(cls):
    with pytest.raises(ValueError, match="input_size must equal hidden_size"):
        cls(3, 4)


def test_highway_matches_numpy_and_gradcheck():
    rng = np.random.default_rng(5)
    for activation in ("relu", "tanh"):
        layer = Highway(H, num_layers=2, activation=activation, gate_bias=-2.0, dtype=F64)
        assert np.all(layer.gate[0].bias.detach().numpy() == -2.0)
        x = tg.Tensor(rng.standard_normal((B, H)), requires_grad=True)
        y = layer(x)
        blocks = [(t.weight.detach().numpy(), t.bias.detach().numpy(), g.weight.detach().numpy(), g.bias.detach().numpy())
                  for t, g in zip(layer.transform, layer.gate)]
        np.testing.assert_allclose(y.detach().numpy(), ref.highway(x.detach().numpy(), blocks, activation),
                                   rtol=1e-12)
        assert tg.gradcheck(lambda *a: layer(x), [x] + list(layer.parameters()))


def test_highway_with_closed_gates_carries_its_input():
    layer = Highway(H, gate_bias=-40.0, dtype=F64)
    x = tg.Tensor(np.random.default_rng(6).standard_normal((B, H)))
    np.testing.assert_allclose(layer(x).detach().numpy(), x.detach().numpy(), atol=1e-12)


# ----------------------------------------------------------------------------- PyTorch
TORCH_CELLS = {
    "rnn_tanh": (lambda: RNNCell(I, H, dtype=F64), lambda t: t.nn.RNNCell(I, H)),
    "rnn_relu": (lambda: RNNCell(I, H, nonlinearity="relu", dtype=F64),
                 lambda t: t.nn.RNNCell(I, H, nonlinearity="relu")),
    "lstm": (lambda: LSTMCell(I, H, dtype=F64), lambda t: t.nn.LSTMCell(I, H)),
    "gru": (lambda: GRUCell(I, H, dtype=F64), lambda t: t.nn.GRUCell(I, H)),
}


@pytest.mark.parametrize("name", list(TORCH_CELLS))
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_pytorch(name, batched):
    torch = pytest.importorskip("torch")
    make, make_torch = TORCH_CELLS[name]
    theirs = make_torch(torch).double()
    ours = make()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(7)
    lead = (B,) if batched else ()
    x, h, c = (rng.standard_normal(lead + (n,)) for n in (I, H, H))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    gx, gh, gc = (tg.Tensor(a, requires_grad=True) for a in (x, h, c))
    if name == "lstm":
        t_out, g_out = theirs(tx, (th, tc)), ours(gx, (gh, gc))
        t_loss = (t_out[0] * t_out[1]).sum() + t_out[0].sum()
        g_loss = (g_out[0] * g_out[1]).sum() + g_out[0].sum()
        pairs = [(tx, gx), (th, gh), (tc, gc)]
    else:
        t_out, g_out = (theirs(tx, th),), (ours(gx, gh),)
        t_loss, g_loss = (t_out[0] ** 2).sum(), (g_out[0] * g_out[0]).sum()
        pairs = [(tx, gx), (th, gh)]
    for t, g in zip(t_out, g_out):
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)
    t_loss.backward()
    g_loss.backward()
    for t, g in pairs:
        np.testing.assert_allclose(g.grad.detach().numpy(), t.grad.detach().numpy(), rtol=1e-10, atol=1e-14)
    named = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.detach().numpy(), named[n].grad.detach().numpy(), rtol=1e-10, atol=1e-14)
