"""tg.checkpoint: recompute in backward; same values and gradients, less kept on the tape."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from strategies import REPEATABLE


def _model(seed: int = 0):
    tg.manual_seed(seed)
    return tg.randn(4, 4).double().requires_grad_(), tg.randn(6, 2, 4).double().requires_grad_()


def _loss(w, x, every: int | None, p: float = 0.3):
    """An RNN with dropout over 6 steps; ``every``: checkpoint segments of that many steps."""
    def segment(h, xs):
        states = []
        for t in range(xs.shape[0]):
            h = F.dropout((h @ w + xs[t]).tanh(), p, True)
            states.append(h)
        return h, tg.stack(states)
    tg.manual_seed(123)
    h, total = tg.zeros(2, 4, dtype="float64"), 0.0
    step = every or 6
    for start in range(0, 6, step):
        xs = x[start:start + step]
        h, side = tg.checkpoint(segment, h, xs) if every else segment(h, xs)
        total = total + (side * side.sin()).sum()
    return (h * h).sum() + total


@settings(max_examples=8, deadline=None, **REPEATABLE)
@given(every=st.sampled_from([1, 2, 3, 6]), seed=st.integers(0, 5))
def test_same_values_and_gradients_with_dropout(every, seed):
    w, x = _model(seed)
    plain = _loss(w, x, None)
    expected = tg.grad(plain, [w, x])
    after_plain = tg.rand(3).detach().numpy()          # where the generator stands after backward
    checked = _loss(w, x, every)
    got = tg.grad(checked, [w, x])
    after_checked = tg.rand(3).detach().numpy()
    assert checked.item() == pytest.approx(plain.item(), rel=1e-14)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(after_checked, after_plain)   # backward put the RNG back


def _kept_bytes(loss) -> int:
    """Bytes of the distinct arrays the tape holds on to (the values backward could read)."""
    arrays = {id(t.data): t.data.nbytes for t in tg.graph_tensors(loss)}
    return sum(arrays.values())


def test_the_tape_keeps_only_segment_boundaries():
    w, x = _model()
    for every, segments in ((1, 6), (3, 2)):
        entries = [t._node.name for t in tg.tape(_loss(w, x, every))]
        assert entries.count("checkpoint") == segments
        assert "tanh" not in entries and "matmul" not in entries
    assert _kept_bytes(_loss(w, x, 3)) < _kept_bytes(_loss(w, x, None))


def test_backward_accumulates_into_parameters_read_by_closure():
    w, x = _model()
    _loss(w, x, None).backward()
    expected = w.grad.detach().numpy().copy()
    w.grad = None
    _loss(w, x, 2).backward()
    np.testing.assert_allclose(w.grad.detach().numpy(), expected, rtol=1e-12)


def test_a_closure_over_a_computed_tensor():
    """Every segment reads w_t = tanh(w^T) (computed once, outside): its history is walked
    once, by the outer backward, not once per segment (that would free tanh's saved output
    in the first segment's backward)."""
    w, x = _model()
    w_t = w.mT.tanh()

    def segment(h, xs):
        for t in range(xs.shape[0]):
            h = (h @ w_t + xs[t]).tanh()
        return h
    def run(every):
        h = tg.zeros(2, 4, dtype="float64")
        for start in range(0, 6, every):
            h = tg.checkpoint(segment, h, x[start:start + every]) if every < 6 else \
                segment(h, x[start:start + every])
        return (h * h).sum()
    expected = tg.grad(run(6), [w, x], retain_graph=True)
    for got, want in zip(tg.grad(run(2), [w, x]), expected):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)


def test_first_order_only_with_a_clear_error():
    w, x = _model()
    assert tg.gradcheck(lambda w, x: _loss(w, x, 2, p=0.0), (w, x))
    (g,) = tg.grad(_loss(w, x, 2), [w], create_graph=False)
    with pytest.raises(tg.BackwardError, match="gradients of gradients through tg.checkpoint"):
        tg.grad(_loss(w, x, 2), [w], create_graph=True)


def test_without_grad_it_is_a_plain_call():
    w, x = _model()
    with tg.no_grad():
        assert tg.checkpoint(lambda a: a * 2, w)._node is None
    with pytest.raises(TypeError, match="must return Tensors"):
        tg.checkpoint(lambda a: 3, w)


def test_the_benchmark_runs_in_a_fresh_process():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_checkpoint.py"
    spec = importlib.util.spec_from_file_location("bench_checkpoint", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    found = bench.measure("lstm", 12, 2, 3, 4)
    assert found["peak_mb"] >= 0 and found["seconds"] > 0
    assert bench.segment_sizes(1000) == [None, 1, 10, 32, 100]    # 32 = round(sqrt(1000))


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("every", [1, 3, 7])
def test_recurrent_layers_checkpoint_every(layer, every):
    """checkpoint_every=k on the composed layers: the same output, state and gradients as
    without it (2 layers, bidirectional, T = 7), and fewer values kept on the tape (LSTM, GRU:
    their steps keep gates and activations)."""
    from tinygrad_rnn import models

    def build(k):
        tg.manual_seed(0)
        return getattr(models, layer)(3, 4, num_layers=2, bidirectional=True, fused=False,
                                      checkpoint_every=k).double()
    tg.manual_seed(1)
    x = tg.randn(7, 2, 3).double().requires_grad_()
    results = []
    for k in (None, every):
        model = build(k)
        output, state = model(x)
        final = state[0] if isinstance(state, tuple) else state
        loss = (output * output.sin()).sum() + (final * final).sum()
        kept = _kept_bytes(loss)
        grads = tg.grad(loss, [x] + list(model.parameters()))
        results.append((output.detach().numpy(), final.detach().numpy(), [g.detach().numpy() for g in grads], kept))
    (out, fin, grads, kept), (out_k, fin_k, grads_k, kept_k) = results
    np.testing.assert_allclose(out_k, out, rtol=1e-12)
    np.testing.assert_allclose(fin_k, fin, rtol=1e-12)
    for g, e in zip(grads_k, grads):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-13)
    if layer != "RNN":     # an RNN step keeps only h_t (its output anyway): nothing to save
        assert kept_k < kept


def test_checkpoint_every_needs_the_composed_path():
    from tinygrad_rnn.models import LSTM
    with pytest.raises(ValueError, match="fused=False"):
        LSTM(3, 4, checkpoint_every=4)
    with pytest.raises(ValueError, match="positive int"):
        LSTM(3, 4, fused=False, checkpoint_every=0)
