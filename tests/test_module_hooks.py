"""Module hooks as torch's: forward pre-hooks, forward hooks, full backward hooks, handles."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _linear():
    tg.manual_seed(0)
    return tg.nn.Linear(3, 2).double()


def test_forward_pre_hook_and_forward_hook_replace_args_and_output():
    layer = _linear()
    x = tg.tensor([[1.0, 2.0, 3.0]], dtype="float64")
    seen = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda m, args, out: seen.append(args[0]) or out + 1)
    np.testing.assert_allclose(layer(x).detach().numpy(), layer.forward(x * 2).detach().numpy() + 1)
    np.testing.assert_allclose(seen[0].detach().numpy(), x.detach().numpy() * 2)     # the replaced args
    pre.remove()
    post.remove()
    np.testing.assert_allclose(layer(x).detach().numpy(), layer.forward(x).detach().numpy())
    assert len(seen) == 1


def test_hooks_run_in_registration_order_and_handles_are_context_managers():
    layer = _linear()
    order = []
    with layer.register_forward_hook(lambda *a: order.append("first")):
        with layer.register_forward_hook(lambda *a: order.append("second")):
            layer(tg.zeros(1, 3, dtype="float64"))
        layer(tg.zeros(1, 3, dtype="float64"))
    layer(tg.zeros(1, 3, dtype="float64"))
    assert order == ["first", "second", "first"]
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook("not a function")


def test_full_backward_hook_sees_the_gradients_of_inputs_and_outputs():
    layer = _linear()
    x = tg.tensor(np.arange(6.0).reshape(2, 3) / 5, dtype="float64", requires_grad=True)
    calls = []
    handle = layer.register_full_backward_hook(
        lambda m, grad_input, grad_output: calls.append((m, grad_input, grad_output)))
    y = layer(x)
    (y * y).sum().backward()
    assert len(calls) == 1
    module, (grad_x,), (grad_y,) = calls[0]
    assert module is layer
    np.testing.assert_allclose(grad_y.detach().numpy(), 2 * y.detach().numpy())
    np.testing.assert_allclose(grad_x.detach().numpy(), x.grad.detach().numpy())
    np.testing.assert_allclose(grad_x.detach().numpy(), grad_y.detach().numpy() @ layer.weight.detach().numpy())
    handle.remove()
    layer(x).sum().backward()
    assert len(calls) == 1


def test_full_backward_hook_can_replace_grad_input():
    layer = _linear()
    x = tg.tensor([[0.5, -1.0, 2.0]], dtype="float64", requires_grad=True)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 7,))
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), np.full((1, 3), 7.0))
    assert layer.weight.grad is not None          # the parameters' gradients are unchanged


def test_full_backward_hook_without_inputs_that_need_grad():
    """An embedding's input is integer indices: the hook fires with grad_input = (None,)."""
    tg.manual_seed(0)
    embedding = tg.nn.Embedding(5, 2)
    calls = []
    embedding.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    out = embedding(tg.tensor([1, 3]))
    (out * 3).sum().backward()
    assert len(calls) == 1 and calls[0][0] == (None,)
    np.testing.assert_allclose(calls[0][1][0].detach().numpy(), np.full((2, 2), 3.0))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_full_backward_hook_matches_torch():
    import torch
    layer = _linear()
    theirs = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(layer.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(layer.bias.detach().numpy()))
    x = np.array([[0.1, 0.2, -0.3], [1.0, -2.0, 0.5]])
    ours_seen, theirs_seen = [], []
    layer.register_full_backward_hook(lambda m, gi, go: ours_seen.append((gi, go)))
    theirs.register_full_backward_hook(lambda m, gi, go: theirs_seen.append((gi, go)))
    (layer(tg.tensor(x, dtype="float64", requires_grad=True)).tanh().sum()).backward()
    (theirs(torch.tensor(x, requires_grad=True)).tanh().sum()).backward()
    for ours, want in zip(ours_seen[0], theirs_seen[0]):
        assert len(ours) == len(want)
        for a, b in zip(ours, want):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


def test_lstm_gradient_norms_example_matches_retain_grad():
    """The example's hook-recorded ||dL/dh_t|| equal those of h_t.retain_grad()."""
    spec = importlib.util.spec_from_file_location(
        "lstm_gradient_norms",
        Path(__file__).resolve().parents[1] / "examples" / "lstm_gradient_norms.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    norms = example.gradient_norms(steps=8, hidden=5, seed=3)

    from tinygrad_rnn.models import LSTMCell
    tg.manual_seed(3)
    cell, head = LSTMCell(4, 5), tg.nn.Linear(5, 1)
    x = tg.randn(8, 2, 4)
    state, hs = None, []
    for t in range(8):
        state = cell(x[t], state)
        hs.append(state[0].retain_grad())
    head(state[0]).sum().backward()
    np.testing.assert_allclose(norms["dL/dh"], [h.grad.norm().item() for h in hs], rtol=1e-6)
    np.testing.assert_allclose(norms["h"], [h.norm().item() for h in hs], rtol=1e-6)
    assert norms["dL/dh"][0] < norms["dL/dh"][-1]        # it shrinks going back in time
