"""Fused recurrent sweeps against the composed cells: on random shapes and options (hypothesis),
in float64, outputs and every gradient agree to 1e-10 relative. Also the cells' pointwise array
code the sweeps run (NumPy here, CuPy's ElementwiseKernels where a GPU is usable)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.backends import backend_for_device
from tinygrad_rnn.models import GRU, LSTM, RNN
from tinygrad_rnn.models import fused
from tinygrad_rnn.models.fused import COPY_FROM_STEPS, transposed
from tinygrad_rnn.models.gru_cell import gru_pointwise, gru_pointwise_backward
from tinygrad_rnn.models.lstm_cell import lstm_pointwise, lstm_pointwise_backward

import numpy_rnn_reference as ref

LAYERS = {"lstm": (LSTM, {}), "gru": (GRU, {}), "gru_original": (GRU, {"reset_after": False}),
          "rnn_tanh": (RNN, {}), "rnn_relu": (RNN, {"nonlinearity": "relu"})}


def run(kind, fused, state_dict, x, h0, c0, weights, config, device="cpu", used=None,
        twice=False):
    """``used``: which of the outputs (output, h_n[, c_n]) the loss reads (all by default);
    ``twice``: backward with retain_graph=True, then again (the gradients add up)."""
    cls, extra = LAYERS[kind]
    layer = cls(x.shape[-1], h0.shape[-1], fused=fused, dtype="float64", **extra, **config)
    layer.load_state_dict(state_dict)
    layer.to(device)
    leaves = [tg.Tensor(a, requires_grad=True, device=device) for a in (x, h0, c0)]
    gx, gh, gc = leaves
    if kind == "lstm":
        out, (h_n, c_n) = layer(gx, (gh, gc))
        outputs = (out, h_n, c_n)
    else:
        out, h_n = layer(gx, gh)
        outputs = (out, h_n)
        leaves = leaves[:2]
    used = used or (True,) * len(outputs)
    loss = sum((o * tg.Tensor(w, device=device)).sum()
               for o, w, use in zip(outputs, weights, used) if use)
    if twice:
        loss.backward(retain_graph=True)
    loss.backward()
    grads = [t.grad for t in leaves] + [p.grad for p in layer.parameters()]
    grads = [None if g is None else g.detach().numpy() for g in grads]
    return [o.detach().numpy() for o in outputs], grads


def compare(kind, T, B, I, H, config, seed, device="cpu", used=None, twice=False):
    rng = np.random.default_rng(seed)
    cls, extra = LAYERS[kind]
    reference = cls(I, H, dtype="float64", **extra, **config)
    state = {k: rng.uniform(-0.8, 0.8, v.shape) for k, v in reference.state_dict().items()}
    D = 2 if config.get("bidirectional") else 1
    L = config.get("num_layers", 1)
    x = rng.standard_normal((B, T, I) if config.get("batch_first") else (T, B, I))
    h0, c0 = (rng.standard_normal((L * D, B, H)) for _ in range(2))
    out_shape = (B, T, D * H) if config.get("batch_first") else (T, B, D * H)
    weights = [rng.standard_normal(out_shape), rng.standard_normal((L * D, B, H)),
               rng.standard_normal((L * D, B, H))][:3 if kind == "lstm" else 2]
    fused_out, fused_grads = run(kind, True, state, x, h0, c0, weights, config, device, used,
                                 twice)
    comp_out, comp_grads = run(kind, False, state, x, h0, c0, weights, config, device, used)
    if twice:
        comp_grads = [None if g is None else 2 * g for g in comp_grads]
    for a, b in zip(fused_out + fused_grads, comp_out + comp_grads):
        assert (a is None) == (b is None)
        if a is None:
            continue
        scale = max(np.abs(b).max(), 1e-300)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * scale)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(list(LAYERS)), T=st.integers(1, 6), B=st.integers(1, 4),
       I=st.integers(1, 5), H=st.integers(1, 6), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fused_steps_match_composed_cells(kind, T, B, I, H, num_layers, bidirectional,
                                          batch_first, bias, seed):
    compare(kind, T, B, I, H, dict(num_layers=num_layers, bidirectional=bidirectional,
                                   batch_first=batch_first, bias=bias), seed)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(list(LAYERS)), T=st.integers(1, 5), B=st.integers(1, 3),
       H=st.integers(1, 4), bidirectional=st.booleans(),
       used=st.tuples(st.booleans(), st.booleans(), st.booleans()).filter(any),
       twice=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_gradients_when_the_loss_reads_some_outputs_or_backward_runs_twice(
        kind, T, B, H, bidirectional, used, twice, seed):
    """A loss on the output alone hands the sweep the one slice it read (no zeros for h_n or
    c_n: accumulate.parts_of), a loss on h_n or c_n alone a slice of one step; a first
    backward with retain_graph=True writes its gradients into new arrays and the second one
    over the saved activations (STATE.overwrite_saved). Each against the composed cells."""
    used = used if kind == "lstm" or any(used[:2]) else (True, False, False)
    compare(kind, T, B, 2, H, dict(bidirectional=bidirectional), seed, used=used[:3 if kind ==
                                                                                   "lstm" else 2],
            twice=twice)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_fused_matches_composed_when_w_hh_spans_several_blocks_of_its_transposed_copy(kind):
    """A sweep of COPY_FROM_STEPS steps or more, on two rows or more, multiplies by a C-ordered
    copy of W_hh^T made 128 rows of W_hh at a time (fused.transposed); with G = gates * H
    above 128 a block left out would show here."""
    H = 130 if kind.startswith("rnn") else 45
    compare(kind, COPY_FROM_STEPS, 2, 3, H, dict(bidirectional=True), seed=2)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["rnn_tanh", "rnn_relu"]), T=st.integers(2, 7), B=st.integers(1, 3),
       H=st.integers(1, 4), steps_per_block=st.integers(1, 3), bidirectional=st.booleans(),
       seed=st.integers(0, 2**16))
def test_rnn_bptt_matches_composed_when_phi_prime_is_taken_a_block_of_steps_at_a_time(
        kind, T, B, H, steps_per_block, bidirectional, seed):
    """The RNN sweep's BPTT computes phi'(pre) for DERIVATIVE_BYTES of steps at a time; with
    blocks of 1-3 steps over 2-7 (the last one short, in both directions) a block that missed
    or repeated steps would show here (a long sequence of small rows is one block otherwise)."""
    bytes_per_step = B * H * 8                               # float64
    saved = fused.DERIVATIVE_BYTES
    fused.DERIVATIVE_BYTES = steps_per_block * bytes_per_step + bytes_per_step // 2
    try:
        compare(kind, T, B, 2, H, dict(bidirectional=bidirectional), seed)
    finally:
        fused.DERIVATIVE_BYTES = saved


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 300), cols=st.integers(1, 6),
       dtype=st.sampled_from(["float32", "float64"]))
def test_the_transposed_copy_is_w_transposed_in_memory_of_its_own(rows, cols, dtype):
    w = np.random.default_rng(rows).standard_normal((rows, cols)).astype(dtype)
    t = transposed(w, np, COPY_FROM_STEPS, 2)
    assert t.flags.c_contiguous and t.dtype == w.dtype and not np.shares_memory(t, w)
    np.testing.assert_array_equal(t, w.T)
    # a shorter sweep, or one row a step (sampling), keeps the view: the copy would not pay
    for steps, batch in ((COPY_FROM_STEPS - 1, 2), (COPY_FROM_STEPS, 1)):
        view = transposed(w, np, steps, batch)
        assert np.shares_memory(view, w)
        np.testing.assert_array_equal(view, w.T)


def test_only_numpy_sweeps_copy_w_transposed(device):
    """The copy pays on OpenBLAS (measured); a GPU sweep multiplies by the view, which cuBLAS
    reads through a transpose flag."""
    xp = backend_for_device(device).xp
    w = xp.ones((300, 4), dtype="float32")
    t = transposed(w, xp, COPY_FROM_STEPS, 2)
    assert bool(xp.shares_memory(t, w)) == (device != "cpu")


def test_a_retained_fused_backward_leaves_the_saved_activations_as_they_were():
    """With retain_graph=True the VJP must not write over what it saved: three backward calls
    give three times one's gradients (the third one may write over them)."""
    tg.manual_seed(0)
    for layer in (LSTM(3, 4, dtype="float64"), GRU(3, 4, dtype="float64"),
                  RNN(3, 4, dtype="float64")):
        x = tg.randn(5, 2, 3, dtype="float64")
        out, _ = layer(x)
        loss = (out * out).sum()
        loss.backward(retain_graph=True)
        once = [p.grad.numpy().copy() for p in layer.parameters()]
        loss.backward(retain_graph=True)
        loss.backward()
        for p, g in zip(layer.parameters(), once):
            np.testing.assert_allclose(p.grad.numpy(), 3 * g, rtol=1e-12)


def _rnn_and_loss_weights(seed=0, T=5, B=3, I=2, H=4):
    tg.manual_seed(seed)
    layer = RNN(I, H, dtype="float64")
    rng = np.random.default_rng(seed)
    return layer, tg.Tensor(rng.standard_normal((T, B, I))), rng.standard_normal((T, B, H))


def _expected_output_gradient_and_grads(layer, x, w):
    """dL/d(output) (= w for L = sum(output * w)) and the parameters' gradients, from the
    composed layer (same weights), which has no array to write over."""
    composed = RNN(layer.input_size, layer.hidden_size, fused=False, dtype="float64")
    composed.load_state_dict(layer.state_dict())
    out, _ = composed(x)
    (out * tg.Tensor(w)).sum().backward()
    return w, [p.grad.numpy() for p in composed.parameters()]


def test_rnn_bptt_writes_d_pre_over_the_outputs_gradient_when_only_it_holds_that(monkeypatch):
    """The RNN sweep keeps no XG: BPTT writes d pre over dL/dy, handed over by the engine, when
    nothing else refers to it (a hand-written BPTT's buffer reuse), and the gradients stay the
    composed layer's."""
    reused = []
    real = fused.gradient_to_write_over
    monkeypatch.setattr(fused, "gradient_to_write_over",
                        lambda gy, like: reused.append(real(gy, like)) or reused[-1])
    layer, x, w = _rnn_and_loss_weights()
    out, _ = layer(x)
    (out * tg.Tensor(w)).sum().backward()
    assert len(reused) == 1 and reused[0] is not None and reused[0].shape == w.shape
    _, expected = _expected_output_gradient_and_grads(layer, x, w)
    for p, g in zip(layer.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-12)


class _KeepsWhatItReturns(tg.Function):
    """y = x; its VJP returns gy * 1 and keeps that very array (a VJP may, as this engine's
    leaf-gradient tests also check)."""
    kept = None

    def forward(self, x):
        return x.copy()

    def backward(self, gy, y):
        type(self).kept = gy.data * 1.0
        return (tg.from_numpy(type(self).kept),)      # shares the kept memory


@pytest.mark.parametrize("holder", ["retain_grad", "hook", "given", "tg.grad", "two uses",
                                    "kept by a vjp"])
def test_rnn_bptt_leaves_an_outputs_gradient_held_elsewhere_as_it_was(holder):
    """Whoever else holds dL/dy sees it unchanged, and the gradients are right, in each case
    where it is not BPTT's alone to write over."""
    layer, x, w = _rnn_and_loss_weights(seed=3)
    expected_gy, expected = _expected_output_gradient_and_grads(layer, x, w)
    out, _ = layer(x)
    weights = tg.Tensor(w)
    seen = []
    if holder == "retain_grad":
        out.retain_grad()
        (out * weights).sum().backward()
        seen.append(out.grad)
    elif holder == "hook":
        out.register_hook(lambda g: seen.append(g))
        (out * weights).sum().backward()
    elif holder == "given":
        given = tg.Tensor(w.copy())
        out.backward(gradient=given)
        seen.append(given)
    elif holder == "tg.grad":
        seen.append(tg.grad((out * weights).sum(), [out, *layer.parameters()])[0])
        expected = None
    elif holder == "two uses":       # one gradient tensor handed to out and to a leaf alike
        c = tg.Tensor(np.zeros(w.shape), requires_grad=True)
        ((out + c) * weights).sum().backward()
        seen.append(c.grad)
    else:
        (_KeepsWhatItReturns().apply(out) * weights).sum().backward()
        seen.append(tg.Tensor(_KeepsWhatItReturns.kept))
    np.testing.assert_array_equal(seen[0].numpy(), expected_gy)
    for p, g in zip(layer.parameters(), expected or []):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_fused_matches_composed_on_each_device(kind, device):
    compare(kind, 4, 3, 2, 5, dict(num_layers=2, bidirectional=True), seed=1, device=device)


def _lstm_pointwise_numpy(pre, c_prev, dh, dc):
    """The LSTM step's pointwise part and its VJP, from the equations, in float64."""
    H = c_prev.shape[-1]
    i, f = ref.sigmoid(pre[:, :H]), ref.sigmoid(pre[:, H:2 * H])
    g, o = np.tanh(pre[:, 2 * H:3 * H]), ref.sigmoid(pre[:, 3 * H:])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    dct = dc + dh * o * (1 - np.tanh(c) ** 2)
    dpre = np.concatenate([dct * g * i * (1 - i), dct * c_prev * f * (1 - f),
                           dct * i * (1 - g * g), dh * np.tanh(c) * o * (1 - o)], axis=1)
    return np.concatenate([i, f, g, o], axis=1), h, c, dpre, dct * f


def test_lstm_pointwise_matches_the_equations(device):
    backend = backend_for_device(device)
    rng = np.random.default_rng(10)
    B, H = 3, 5
    pre, c_prev, dh, dc = (rng.standard_normal(s) for s in ((B, 4 * H), (B, H), (B, H), (B, H)))
    acts, h, c, dpre, dc_prev = _lstm_pointwise_numpy(pre, c_prev, dh, dc)
    put = lambda a: backend.asarray(a, device=device)  # noqa: E731
    gates, h_out, c_out = put(pre), put(np.empty((B, H))), put(np.empty((B, H)))
    lstm_pointwise(gates, put(c_prev), h_out, c_out)
    for got, want in ((gates, acts), (h_out, h), (c_out, c)):
        np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-13, atol=1e-15)
    dgates, dcp = put(np.empty((B, 4 * H))), put(np.empty((B, H)))
    lstm_pointwise_backward(gates, put(c_prev), c_out, put(dh), put(dc), dgates, dcp)
    np.testing.assert_allclose(backend.to_numpy(dgates), dpre, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dcp), dc_prev, rtol=1e-12, atol=1e-15)
    # the sweep's backward writes the gradients over the activations themselves
    dcp = put(np.empty((B, H)))
    lstm_pointwise_backward(gates, put(c_prev), c_out, put(dh), put(dc), gates, dcp)
    np.testing.assert_allclose(backend.to_numpy(gates), dpre, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dcp), dc_prev, rtol=1e-12, atol=1e-15)


def test_gru_pointwise_matches_the_equations(device):
    backend = backend_for_device(device)
    rng = np.random.default_rng(11)
    B, H = 3, 5
    xg, hg, h_prev, dh = (rng.standard_normal(s) for s in ((B, 3 * H), (B, 3 * H), (B, H), (B, H)))
    r = ref.sigmoid(xg[:, :H] + hg[:, :H])
    z = ref.sigmoid(xg[:, H:2 * H] + hg[:, H:2 * H])
    n = np.tanh(xg[:, 2 * H:] + r * hg[:, 2 * H:])
    h = (1 - z) * n + z * h_prev
    dn = dh * (1 - z) * (1 - n * n)
    dxg = np.concatenate([dn * hg[:, 2 * H:] * r * (1 - r), dh * (h_prev - n) * z * (1 - z), dn], 1)
    put = lambda a: backend.asarray(a, device=device)  # noqa: E731
    acts, h_out, hn = put(xg), put(np.empty((B, H))), put(np.empty((B, H)))
    gru_pointwise(acts, put(hg), put(h_prev), h_out, hn)
    np.testing.assert_allclose(backend.to_numpy(h_out), h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(acts), np.concatenate([r, z, n], 1), rtol=1e-13)
    got_dxg, dhn, dh_prev = put(np.empty((B, 3 * H))), put(np.empty((B, H))), put(np.empty((B, H)))
    gru_pointwise_backward(acts, hn, put(h_prev), put(dh), got_dxg, dhn, dh_prev)
    np.testing.assert_allclose(backend.to_numpy(got_dxg), dxg, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dhn), dn * r, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dh_prev), dh * z, rtol=1e-12, atol=1e-15)
    dhn, dh_prev = put(np.empty((B, H))), put(np.empty((B, H)))
    gru_pointwise_backward(acts, hn, put(h_prev), put(dh), acts, dhn, dh_prev)  # over acts
    np.testing.assert_allclose(backend.to_numpy(acts), dxg, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dhn), dn * r, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(dh_prev), dh * z, rtol=1e-12, atol=1e-15)
