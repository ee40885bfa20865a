"""RNN / LSTM / GRU layers: PyTorch parity (state dicts load unchanged; outputs and gradients
agree), an independent NumPy re-derivation, gradcheck, the tape's structure (one entry per step
when fused, time-step scopes, the hoisted input projection) and the options."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import BackwardError, OpError
from tinygrad_rnn.models import GRU, LSTM, RNN

import numpy_rnn_reference as ref

KINDS = {
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "rnn_tanh": (RNN, {}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
}
# also Cho et al.'s original GRU (reset_after=False), which PyTorch's layer has not
ALL_KINDS = dict(KINDS, gru_original=(GRU, {"reset_after": False}))
CONFIGS = [
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(num_layers=2, bias=False),
    dict(bidirectional=True),
    dict(),
]


def make(kind, fused=True, input_size=3, hidden_size=4, dtype="float64", **config):
    cls, extra = ALL_KINDS[kind]
    return cls(input_size, hidden_size, fused=fused, dtype=dtype, **extra, **config)


def initial_states(layer, kind, batch, rng, lead=None):
    shape = (layer.num_layers * layer.num_directions,) + ((batch,) if lead is None else ()) + (
        layer.hidden_size,)
    h0 = rng.standard_normal(shape) * 0.5
    c0 = rng.standard_normal(shape) * 0.5 if kind == "lstm" else None
    return h0, c0


def run_ours(layer, kind, x, h0, c0):
    """(output, h_n, c_n or None) and the leaves, from NumPy arrays."""
    gx = tg.Tensor(x, requires_grad=True)
    gh = None if h0 is None else tg.Tensor(h0, requires_grad=True)
    gc = None if c0 is None else tg.Tensor(c0, requires_grad=True)
    if kind == "lstm":
        out, (h_n, c_n) = layer(gx, None if gh is None else (gh, gc))
    else:
        (out, h_n), c_n = layer(gx, gh), None
    return (out, h_n, c_n), [t for t in (gx, gh, gc) if t is not None]


def weighted_loss(outputs, weights):
    return sum((o * w).sum() for o, w in zip(outputs, weights) if o is not None)


# ------------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_layer_matches_pytorch(kind, fused, config):
    torch = pytest.importorskip("torch")
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind, torch.nn.RNN)
    extra = KINDS[kind][1]
    theirs = cls(3, 4, **extra, **config).double()
    ours = make(kind, fused, **config)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    rng = np.random.default_rng(0)
    T, B = 5, 3
    x = rng.standard_normal((B, T, 3) if config.get("batch_first") else (T, B, 3))
    h0, c0 = initial_states(ours, kind, B, rng)
    (out, h_n, c_n), leaves = run_ours(ours, kind, x, h0, c0)
    tx, th, tc = (None if a is None else torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    if kind == "lstm":
        t_out, (t_h, t_c) = theirs(tx, (th, tc))
    else:
        (t_out, t_h), t_c = theirs(tx, th), None
    weights = [rng.standard_normal(o.shape) for o in (out, h_n, c_n) if o is not None]
    for got, want in zip((out, h_n, c_n), (t_out, t_h, t_c)):
        if got is not None:
            assert got.shape == tuple(want.shape)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-11, atol=1e-13)
    weighted_loss((out, h_n, c_n), [tg.Tensor(w) for w in weights]).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(
        [o for o in (t_out, t_h, t_c) if o is not None], weights)).backward()
    for got, want in zip(leaves, [t for t in (tx, th, tc) if t is not None]):
        np.testing.assert_allclose(got.grad.detach().numpy(), want.grad.detach().numpy(), rtol=1e-9, atol=1e-12)
    named = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.detach().numpy(), named[n].grad.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unbatched_input_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    theirs = cls(3, 4, num_layers=2).double()
    ours = make(kind, num_layers=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((6, 3))
    out, state = ours(tg.Tensor(x))
    t_out, t_state = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    h_n, t_h = (state[0], t_state[0]) if kind == "lstm" else (state, t_state)
    assert h_n.shape == (2, 4)
    np.testing.assert_allclose(h_n.detach().numpy(), t_h.detach().numpy(), rtol=1e-12)


# ------------------------------------------------------------------ NumPy re-derivation
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_layer_matches_numpy_equations_and_their_numeric_gradients(kind, fused):
    rng = np.random.default_rng(2)
    layer = make(kind, fused, input_size=2, hidden_size=2, num_layers=2, bidirectional=True)
    T, B = 3, 2
    x = rng.standard_normal((T, B, 2))
    h0, c0 = initial_states(layer, kind, B, rng)
    (out, h_n, c_n), leaves = run_ours(layer, kind, x, h0, c0)
    nonlinearity = KINDS[kind][1].get("nonlinearity", "tanh")
    numpy_kind = kind.split("_")[0]
    params = {n: p.detach().numpy().copy() for n, p in layer.named_parameters()}
    arrays = [a.copy() for a in (x, h0, c0) if a is not None]

    def forward():
        h0_, c0_ = arrays[1], (arrays[2] if kind == "lstm" else None)
        return ref.layer_forward(numpy_kind, arrays[0], params, 2, True, h0_, c0_, nonlinearity)

    expected = forward()
    for got, want in zip((out, h_n, c_n), expected):
        if got is not None:
            np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    weights = [rng.standard_normal(o.shape) for o in expected if o is not None]
    weighted_loss((out, h_n, c_n), [tg.Tensor(w) for w in weights]).backward()

    def numpy_loss():
        return sum(float((o * w).sum()) for o, w in zip(
            [o for o in forward() if o is not None], weights))

    numeric = ref.numeric_gradients(numpy_loss, arrays + list(params.values()))
    analytic = [t.grad.detach().numpy() for t in leaves] + [p.grad.detach().numpy() for p in layer.parameters()]
    for got, want in zip(analytic, numeric):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("kind", list(ALL_KINDS))
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_layer_gradcheck(kind, fused):
    rng = np.random.default_rng(3)
    layer = make(kind, fused, input_size=2, hidden_size=2, bidirectional=True, batch_first=True)
    x = tg.Tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0, c0 = initial_states(layer, kind, 2, rng)
    h0 = tg.Tensor(h0, requires_grad=True)
    c0 = None if c0 is None else tg.Tensor(c0, requires_grad=True)
    inputs = [x, h0] + ([c0] if c0 is not None else []) + list(layer.parameters())

    def fn(*_):
        if kind == "lstm":
            out, (h_n, c_n) = layer(x, (h0, c0))
            return out, h_n, c_n
        return layer(x, h0)

    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_composed_layer_supports_double_backward(kind):
    layer = make(kind, fused=False, input_size=2, hidden_size=2)
    x = tg.Tensor(np.random.default_rng(4).standard_normal((3, 1, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: layer(x)[0], [x, layer.weight_hh_l0])


@pytest.mark.parametrize("kind", list(KINDS))
def test_composed_create_graph_gradients_equal_the_first_order_ones(kind):
    layer = make(kind, fused=False, input_size=2, hidden_size=3, bidirectional=True)
    x = tg.Tensor(np.random.default_rng(10).standard_normal((4, 2, 2)), requires_grad=True)
    wanted = [x] + list(layer.parameters())
    loss = (layer(x)[0] ** 2).sum()
    plain = tg.grad(loss, wanted, retain_graph=True)
    graphed = tg.grad(loss, wanted, create_graph=True)
    assert all(g.requires_grad for g in graphed[1:])
    for a, b in zip(plain, graphed):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_layer_refuses_create_graph_with_a_clear_error(kind):
    layer = make(kind, input_size=2, hidden_size=2)
    x = tg.Tensor(np.ones((3, 1, 2)), requires_grad=True)
    out = layer(x)[0]
    with pytest.raises(BackwardError, match="first-order.*fused=False"):
        tg.grad(out.sum(), x, create_graph=True)


# --------------------------------------------------------------------- tape structure
def _entries(output):
    return [t._node for t in tg.tape(output)]


@pytest.mark.parametrize("kind,sweep", [("lstm", "lstm sweep"), ("gru", "gru sweep"),
                                        ("rnn_tanh", "rnn sweep")])
def test_fused_layer_records_one_entry_per_sweep(kind, sweep):
    layer = make(kind, input_size=2, hidden_size=3)
    T = 6
    out, _ = layer(tg.Tensor(np.ones((T, 2, 2))))
    nodes = _entries(out)
    sweeps = [n for n in nodes if n.name == sweep]
    assert len(sweeps) == 1 and sweeps[0].scope is None
    assert sweeps[0].extra_repr() == f"T={T}, fused"
    assert all(n.name in (sweep, "getitem") for n in nodes)   # the sweep and y = out[0]


def test_composed_layer_scopes_each_step_and_hoists_the_input_projection():
    layer = make("lstm", fused=False, input_size=2, hidden_size=3)
    T = 4
    out, _ = layer(tg.Tensor(np.ones((T, 2, 2))))
    nodes = _entries(out)
    scopes = {n.scope for n in nodes if n.scope}
    assert scopes == {f"t={t}" for t in range(T)}
    matmuls = [n for n in nodes if n.name == "matmul"]
    assert [n.scope for n in matmuls] == [None] + [f"t={t}" for t in range(T)]  # X W_ih^T once


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_multi_layer_bidirectional_entries_name_the_layer_and_direction(fused):
    layer = make("gru", fused, input_size=2, hidden_size=2, num_layers=2, bidirectional=True)
    out, _ = layer(tg.Tensor(np.ones((2, 1, 2))))
    labels = ("l0", "l0_reverse", "l1", "l1_reverse")
    if fused:
        shown = {n.extra_repr() for n in _entries(out) if n.name == "gru sweep"}
        assert shown == {f"T=2, fused, {label}" for label in labels}
    else:
        scopes = {n.scope for n in _entries(out) if n.scope}
        assert scopes == {f"t={t}/{label}" for t in range(2) for label in labels}


# ------------------------------------------------------------------- backward semantics
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_retain_graph_second_backward_doubles_the_gradients(fused):
    layer = make("lstm", fused, input_size=2, hidden_size=3, bidirectional=True)
    x = tg.Tensor(np.random.default_rng(5).standard_normal((4, 2, 2)), requires_grad=True)
    out, (h_n, c_n) = layer(x)
    loss = (out * out).sum() + c_n.sum()
    loss.backward(retain_graph=True)
    first = [p.grad.detach().numpy().copy() for p in layer.parameters()] + [x.grad.detach().numpy().copy()]
    loss.backward()
    second = [p.grad.detach().numpy() for p in layer.parameters()] + [x.grad.detach().numpy()]
    for a, b in zip(first, second):
        np.testing.assert_allclose(b, 2 * a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_backward_from_one_middle_output_or_the_final_state_only(kind):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 2, 2))
    grads = {}
    for fused in (True, False):
        layer = make(kind, fused, input_size=2, hidden_size=3)
        tg.manual_seed(0)
        layer = make(kind, fused, input_size=2, hidden_size=3)
        (out, h_n, _), (gx,) = run_ours(layer, kind, x, None, None)
        out[2].sum().backward(retain_graph=True)
        g_mid = gx.grad.detach().numpy().copy()
        assert np.all(g_mid[3:] == 0) and np.abs(g_mid[:3]).max() > 0
        gx.grad = None
        h_n.sum().backward()
        grads[fused] = (g_mid, gx.grad.detach().numpy(), [p.grad.detach().numpy() for p in layer.parameters()])
    for a, b in zip(grads[True][:2], grads[False][:2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    for a, b in zip(grads[True][2], grads[False][2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_frozen_weights_still_give_input_gradients():
    layer = make("gru", input_size=2, hidden_size=3).requires_grad_(False)
    x = tg.Tensor(np.ones((3, 1, 2)), requires_grad=True)
    layer(x)[0].sum().backward()
    assert x.grad is not None and all(p.grad is None for p in layer.parameters())


def test_no_grad_inference_matches_the_recorded_forward():
    layer = make("lstm", input_size=2, hidden_size=3, num_layers=2)
    x = tg.Tensor(np.random.default_rng(7).standard_normal((4, 2, 2)))
    with tg.no_grad():
        out, _ = layer(x)
    assert out._node is None
    np.testing.assert_allclose(out.detach().numpy(), layer(x)[0].detach().numpy())


# ----------------------------------------------------------------------------- options
def test_float32_stays_float32():
    for fused in (True, False):
        layer = make("lstm", fused, dtype=None)
        out, (h_n, c_n) = layer(tg.Tensor(np.ones((3, 2, 3), dtype=np.float32)))
        assert out.dtype == h_n.dtype == c_n.dtype == np.float32
        out.sum().backward()
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_dropout_between_layers_only_while_training():
    layer = make("lstm", num_layers=2, dropout=0.5)
    plain = make("lstm", num_layers=2)
    plain.load_state_dict(layer.state_dict())
    x = tg.Tensor(np.random.default_rng(8).standard_normal((4, 2, 3)))
    trained = layer(x)[0].detach().numpy()
    assert np.abs(trained - plain(x)[0].detach().numpy()).max() > 1e-6
    assert np.count_nonzero(trained == 0) == 0          # no dropout after the last layer
    layer.eval()
    np.testing.assert_allclose(layer(x)[0].detach().numpy(), plain(x)[0].detach().numpy())


def test_output_and_state_shapes():
    layer = make("lstm", num_layers=3, bidirectional=True, batch_first=True, hidden_size=5)
    out, (h_n, c_n) = layer(tg.Tensor(np.ones((2, 7, 3))))
    assert out.shape == (2, 7, 10) and h_n.shape == c_n.shape == (6, 2, 5)
    out, h_n = make("rnn_tanh", hidden_size=5)(tg.Tensor(np.ones((7, 2, 3))))
    assert out.shape == (7, 2, 5) and h_n.shape == (1, 2, 5)


def test_bad_inputs_raise_clear_errors():
    layer = make("lstm")
    with pytest.raises(OpError, match="input_size=3"):
        layer(tg.Tensor(np.ones((2, 1, 4))))
    with pytest.raises(OpError, match=r"initial state must have shape \(1, 1, 4\)"):
        layer(tg.Tensor(np.ones((2, 1, 3))), (tg.zeros(2, 1, 4), tg.zeros(2, 1, 4)))
    with pytest.raises(OpError, match="pair"):
        layer(tg.Tensor(np.ones((2, 1, 3))), tg.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(2, 2, nonlinearity="sigmoid")


def test_layer_runs_on_each_device(device):
    for kind in ("lstm", "gru", "rnn_tanh"):
        layer = make(kind, num_layers=2, bidirectional=True).to(device)
        x = tg.Tensor(np.random.default_rng(9).standard_normal((4, 2, 3)), device=device,
                      requires_grad=True)
        out = layer(x)[0]
        out.sum().backward()
        assert out.device.startswith(device) and x.grad.device.startswith(device)


# ------------------------------------------------------------------------- drawings
@pytest.mark.parametrize("view", ["forward", "backward"])
def test_a_fused_layer_draws_as_one_box_per_sweep_and_the_composed_one_per_step(view):
    from tinygrad_rnn import viz
    T = 5
    x = tg.Tensor(np.ones((T, 1, 3)), requires_grad=True)
    fused = viz.draw(make("lstm", bidirectional=True)(x)[0], view=view).source
    if view == "forward":
        assert fused.count("lstm sweep T=5, fused, l0\\n") == 1
        assert fused.count("lstm sweep T=5, fused, l0_reverse") == 1
    else:
        assert fused.count("lstm sweep backward: BPTT") == 2
    assert "cluster" not in fused                         # no per-step clusters
    composed = viz.draw(make("lstm", fused=False)(x)[0], view=view).source
    assert composed.count("subgraph \"cluster_t=") == T and "sweep" not in composed


@pytest.mark.parametrize("fused, wanted", [(True, "lstm sweep T=3, fused"), (False, "t=2")])
def test_graph_command_draws_the_fused_sweep_or_the_composed_steps(tmp_path, fused, wanted):
    import subprocess
    import sys
    args = [sys.executable, "-m", "tinygrad_rnn", "graph", "--steps", "3", "--view", "forward",
            "--out", str(tmp_path)] + (["--fused"] if fused else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    drawn = (tmp_path / "graph_forward.svg").read_text()
    assert wanted in drawn and (("sweep" in drawn) == fused)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_original_gru_layer_runs_the_original_gru_cell_at_every_step(fused):
    from tinygrad_rnn.models import GRUCell
    rng = np.random.default_rng(12)
    cell = GRUCell(3, 4, reset_after=False, dtype="float64")
    layer = GRU(3, 4, reset_after=False, fused=fused, dtype="float64")
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    assert "reset_after=False" in repr(layer)
    x = tg.Tensor(rng.standard_normal((4, 2, 3)))
    h = tg.Tensor(rng.standard_normal((2, 4)))
    out, h_n = layer(x, h.unsqueeze(0))
    for t in range(4):
        h = cell(x[t], h)
        np.testing.assert_allclose(out[t].detach().numpy(), h.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n[0].detach().numpy(), h.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("fused", [True, False])
def test_final_states_are_their_own_arrays_as_in_torch(kind, fused):
    """Editing h_n (or c_n) in place changes neither the output nor its backward: resetting a
    finished sequence's state is common between windows."""
    layer = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[kind](4, 6, fused=fused)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 3, 4)), requires_grad=True)
    out, states = layer(x)
    last = out.detach().numpy()[-1].copy()
    with tg.no_grad():
        for state in (states if kind == "lstm" else (states,)):
            state.mul_(0.5)
    np.testing.assert_array_equal(out.detach().numpy()[-1], last)
    out.sum().backward()
    assert x.grad is not None
