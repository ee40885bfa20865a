"""PyTorch semantics that hand-written training loops and ported code rely on (issue 10).

Each test names the numbered point of the issue it covers; the expected values are torch's
(torch 2.13, float64), written out so the tests run without torch.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import BackwardError, Tensor


def leaf(values, dtype="float64"):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ----------------------------------------------------------------- 1: in-place operators

def test_item1_augmented_assignment_updates_the_parameter_under_no_grad():
    model = tg.nn.Linear(3, 1)
    before = model.weight.numpy().copy()
    x = tg.randn(4, 3)
    model(x).sum().backward()
    with tg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad                  # the micrograd/DeZero training loop
    np.testing.assert_allclose(model.weight.numpy(), before - 0.1 * model.weight.grad.numpy(),
                               rtol=1e-6)
    w = model.weight
    with tg.no_grad():
        w *= 2.0
        w /= 4.0
        w += 1.0
    assert w is model.weight and w.version == 4


def test_item1_augmented_assignment_bumps_the_version_a_saved_tensor_checks():
    w = leaf([1.0, 2.0])
    x = Tensor(np.array([3.0, 4.0]))
    loss = (w * x).sum()                       # mul saved x
    with tg.no_grad():
        x *= 2
    with pytest.raises(BackwardError, match=r"mul .*modified in place"):
        loss.backward()


def test_item1_augmented_assignment_on_a_leaf_outside_no_grad_raises():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w -= 1.0


# ----------------------------------------------------------- 2: writes into tensors (CopySlices)

def test_item2_setitem_of_a_tensor_that_needs_grad_is_recorded():
    h0, h1 = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    outputs = tg.zeros(2, 2, dtype="float64")
    outputs[0] = h0 * 2                        # the outputs[t] = h loop of a hand-written RNN
    outputs[1] = h1.exp()
    assert outputs.requires_grad and outputs.grad_fn is not None
    (outputs * Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))).sum().backward()
    np.testing.assert_allclose(h0.grad.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(h1.grad.numpy(), [3.0 * math.exp(3.0), 4.0 * math.exp(4.0)])


def test_item2_copy_into_a_buffer_sends_the_gradient_back():
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    buf = tg.zeros(2, 2, dtype="float64")
    buf.copy_(y * y)
    assert buf.requires_grad
    buf.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())


def test_item2_overwritten_positions_get_no_gradient():
    x = leaf([1.0, 2.0, 3.0])
    z = x * 1.0                                # a non-leaf that requires grad
    z[1] = 10.0                                # position 1 no longer depends on x
    z.mul_(3.0)
    z.add_(x)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 1.0, 4.0])
    np.testing.assert_allclose(z.numpy(), [4.0, 32.0, 12.0])


def test_item2_in_place_op_on_a_non_leaf_is_recorded_and_reuse_is_caught():
    x = leaf([0.5, -1.0])
    y = x.exp()                                # exp saves its output y
    y.add_(1.0)
    with pytest.raises(BackwardError, match=r"exp .*output was modified in place"):
        y.sum().backward()
    z = x * 1.0
    w = z * z                                  # mul saved z
    z.mul_(2.0)
    with pytest.raises(BackwardError, match=r"mul .*modified in place"):
        w.sum().backward()


def test_item2_uses_recorded_before_an_in_place_op_keep_their_own_history():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    early = y + 1.0                            # add saves nothing: safe to reuse
    y.mul_(x)                                  # y's history is rebased onto mul_
    (early.sum() + y.sum()).backward()
    # d/dx [sum(3x + 1) + sum(3x * x)] = 3 + 6x
    np.testing.assert_allclose(x.grad.numpy(), 3.0 + 6.0 * x.numpy())


def test_item2_buffer_read_before_it_required_grad_gives_no_gradient_there():
    h = leaf([2.0])
    buf = tg.zeros(2, dtype="float64")
    early = buf + 1.0                          # buf needed no grad when this was recorded
    buf[0] = h
    (early.sum() + buf.sum()).backward()
    np.testing.assert_allclose(h.grad.numpy(), [1.0])


def test_item2_leaf_in_place_still_refused_and_view_of_non_leaf_explains():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 5.0
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.copy_(Tensor(np.zeros(2)))
    z = (w * 1.0).reshape(2, 1)
    with pytest.raises(RuntimeError, match="reshape view .*base\\[index\\] = value"):
        z.reshape(2).fill_(1.0)


def test_item2_matches_torch_on_a_hand_written_rnn_loop():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))

    def run(lib, tensor):
        x, w = tensor(x_np), tensor(w_np)
        h = lib.zeros(3, dtype=lib.float64)
        outputs = lib.zeros(4, 3, dtype=lib.float64)
        for t in range(4):
            h = (x[t] + h @ w).tanh()
            outputs[t] = h
        outputs[1:3] *= 2.0
        (outputs ** 2).sum().backward()
        return outputs, x.grad, w.grad

    ours = run(tg, lambda a: Tensor(a, requires_grad=True))
    theirs = run(torch, lambda a: torch.tensor(a, requires_grad=True))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------- 3: max/min over a dim

def test_item3_max_and_min_over_a_dim_return_values_and_indices():
    x = Tensor(np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 0.0]]), requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 4.0] and indices.tolist() == [1, 0]
    assert x.max(1)[1].tolist() == [1, 0] and x.max(dim=1).indices.tolist() == [1, 0]
    assert x.min(0).indices.tolist() == [0, 1, 1]
    assert x.max(1, keepdim=True).values.shape == (2, 1)
    assert x.max().item() == 5.0 and x.amax((0, 1)).item() == 5.0
    x.max(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))
    np.testing.assert_array_equal(x.max(Tensor(np.full((2, 3), 2.5))).numpy(),
                                  [[2.5, 5.0, 3.0], [4.0, 2.5, 2.5]])


# ----------------------------------------------------------------- 4: pow at 0

def test_item4_pow_gradients_at_a_zero_base():
    a, b = leaf([0.0, 2.0]), leaf([0.0, 3.0])
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 12.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 8.0 * math.log(2.0)])


def test_item4_pow_with_a_python_number_base():
    x = leaf([0.0, 1.0, 2.0])
    (0.0 ** x).sum().backward()                # torch: [0, 0, 0]
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.0])
    y = leaf([1.0, 2.0])
    ((-2.0) ** y).sum().backward()             # torch: nan (log of a negative base)
    assert np.isnan(y.grad.numpy()).all()
    z = leaf([1.5])
    (2.0 ** z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [2.0 ** 1.5 * math.log(2.0)])


# ----------------------------------------------------------------- 5: logsumexp at infinities

def test_item5_logsumexp_of_infinite_rows():
    x = Tensor(np.array([[-np.inf, -np.inf], [1.0, np.inf], [0.0, 0.0]]))
    np.testing.assert_array_equal(x.logsumexp(1).numpy(), [-np.inf, np.inf, math.log(2.0)])
    assert Tensor(np.zeros((0,))).logsumexp(0).item() == -np.inf


# ----------------------------------------------------------------- 6: gradients handed out

def test_item6_gradients_are_writable_and_not_shared():
    x = leaf([1.0, 2.0])
    g = tg.grad(x.sum(), x)[0]
    g.mul_(2.0)                                # was: output array is read-only
    assert g.tolist() == [2.0, 2.0]
    y = leaf([1.0, 2.0])
    (y * y).sum().backward(create_graph=True)
    y.grad.zero_()
    a, b, w = leaf([1.0]), leaf([2.0]), leaf([3.0])
    ((a + b) * w).sum().backward(create_graph=True)
    assert a.grad is not b.grad


def test_item6_gradients_accumulate_in_place():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    g = x.grad
    (x * 3.0).sum().backward()
    assert g is x.grad and g.tolist() == [6.0, 6.0]


# ----------------------------------------------------------------- 8: dtypes

def test_item8_leaf_gradient_keeps_the_leaf_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * Tensor(np.array([3.0, 4.0]))).sum().backward()
    assert x.grad.dtype == np.float32
    assert tg.grad((x.double() * 2).sum(), x)[0].dtype == np.float32


def test_item8_integer_arithmetic_gives_the_default_float_dtype():
    i, j = tg.tensor([1, 2]), tg.tensor([2, 4])
    assert (i / j).dtype == np.float32 and (i / j).tolist() == [0.5, 0.5]
    assert (i * 0.5).dtype == np.float32 and (i + 1.5).dtype == np.float32
    assert (i * j).dtype == np.int64
    assert i.float().exp().dtype == np.float32 and i.sqrt().dtype == np.float32


# ----------------------------------------------------------------- 9: empty reductions

def test_item9_empty_reductions_are_nan():
    assert math.isnan(Tensor(np.zeros((0,))).mean().item())
    assert math.isnan(Tensor(np.array([3.0])).var().item())
    assert Tensor(np.array([3.0])).var(correction=0).item() == 0.0
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(logits, tg.tensor([-100, -100]))
    assert math.isnan(loss.item())


# ----------------------------------------------------------------- 10: grad mode

def test_item10_no_grad_decorates_a_generator():
    x = leaf([1.0])

    @tg.no_grad()
    def steps():
        for _ in range(2):
            yield (x * 2).requires_grad, tg.is_grad_enabled()

    assert list(steps()) == [(False, False), (False, False)]
    assert tg.is_grad_enabled()


def test_item10_set_grad_enabled_as_a_plain_call():
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (leaf([1.0]) * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()

    @tg.set_grad_enabled(False)
    def off():
        return tg.is_grad_enabled()
    assert tg.is_grad_enabled() and off() is False and tg.is_grad_enabled()


# ----------------------------------------------------------------- 11: less strictness

def test_item11_second_backward_through_ops_that_saved_nothing():
    a = leaf([1.0, 2.0])
    c = a + 1
    c.sum().backward()
    c.sum().backward()                          # torch: fine, add saved nothing
    assert a.grad.tolist() == [2.0, 2.0]


def test_item11_requires_grad_on_a_non_leaf_that_already_requires_it():
    z = leaf([1.0]) * 2
    assert z.requires_grad_() is z
    with pytest.raises(RuntimeError, match="leaf"):
        z.requires_grad_(False)


def test_item11_view_of_a_leaf_made_before_requires_grad_refuses_in_place():
    x = Tensor(np.zeros(3))
    view = x[:2]
    x.requires_grad_(True)
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        view.add_(1.0)
    with tg.no_grad():
        view.add_(1.0)
    assert x.tolist() == [1.0, 1.0, 0.0]
    x.detach().zero_()                         # detach() is no view in autograd's sense


# ----------------------------------------------------------------- 7: attention details

def test_item7_causal_mask_is_aligned_top_left_when_lengths_differ():
    from tinygrad_rnn.models import scaled_dot_product_attention
    rng = np.random.default_rng(1)
    q, k, v = (Tensor(rng.standard_normal(s)) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    _, weights = scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_array_equal(weights.numpy()[0] > 0, np.tril(np.ones((3, 5), bool)))
    torch = pytest.importorskip("torch")
    out, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(t.numpy()) for t in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out.numpy(), theirs.numpy(), rtol=1e-12)


def test_item7_transformer_gelu_is_exact_and_float_padding_masks_add():
    torch = pytest.importorskip("torch")
    from tinygrad_rnn.models import MultiHeadAttention, TransformerEncoderLayer
    rng = np.random.default_rng(2)
    ours = TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu", batch_first=True,
                                   dtype="float64").eval()
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu",
                                              batch_first=True).double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 4, 8)) * 3
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    mha = MultiHeadAttention(8, 2, batch_first=True, dtype="float64")
    t_mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    mha.load_state_dict({k: v.detach().numpy() for k, v in t_mha.state_dict().items()})
    padding = rng.standard_normal((2, 4))                 # float: added to the scores
    attn = rng.standard_normal((4, 4))
    out, weights = mha(Tensor(x), Tensor(x), Tensor(x), key_padding_mask=padding, attn_mask=attn)
    t_x = torch.tensor(x)
    t_out, t_weights = t_mha(t_x, t_x, t_x, key_padding_mask=torch.tensor(padding),
                             attn_mask=torch.tensor(attn))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), rtol=1e-10)


# ----------------------------------------------------------------- the autograd API

def test_register_hook_sees_and_replaces_gradients_and_can_be_removed():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    seen = []
    handle = y.register_hook(lambda g: seen.append(g.tolist()) or g * 10.0)
    leaf_handle = x.register_hook(lambda g: g + 1.0)
    y.sum().backward()
    assert seen == [[1.0, 1.0]] and x.grad.tolist() == [31.0, 31.0]
    handle.remove()
    leaf_handle.remove()
    x.grad = None
    (x * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)


def test_autograd_backward_of_several_roots():
    x = leaf([1.0, 2.0])
    a, b = (x * x).sum(), x * 3.0
    tg.autograd.backward([a, b], [None, Tensor(np.array([1.0, -1.0]))])
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + [3.0, -3.0])
    w = leaf([5.0])
    tg.autograd.backward((x * w).sum(), inputs=[w])
    assert w.grad.tolist() == [3.0] and x.grad.tolist() == [5.0, 1.0]


def test_detach_in_place_makes_a_leaf():
    x = leaf([1.0])
    y = x * 2.0
    assert y.detach_() is y and y.is_leaf and not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="view"):
        (x * 1.0)[0:1].detach_()


def test_grad_fn_can_be_walked_like_torch():
    torch = pytest.importorskip("torch")

    def walk(fn, depth=0, out=None):
        out = [] if out is None else out
        out.append((depth, fn.name() if fn is not None else None))
        for child, _ in (fn.next_functions if fn is not None else ()):
            walk(child, depth + 1, out)
        return out

    x, tx = leaf([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ours = walk(((x * 2.0).tanh() + x).sum().grad_fn)
    theirs = walk(((tx * 2.0).tanh() + tx).sum().grad_fn)
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    assert [n for _, n in ours] == ["SumBackward0", "AddBackward0", "TanhBackward0",
                                    "MulBackward0", "AccumulateGrad", None, "AccumulateGrad"]
    assert [n.replace("torch::autograd::", "") if n else n for _, n in theirs] == \
        [n for _, n in ours]
    leaf_node = ((x * 2.0).sum().grad_fn.next_functions[0][0].next_functions[0][0])
    assert leaf_node.variable is x
