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
    before = model.weight.detach().numpy().copy()
    x = tg.randn(4, 3)
    model(x).sum().backward()
    with tg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad                  # the micrograd/DeZero training loop
    np.testing.assert_allclose(model.weight.detach().numpy(), before - 0.1 * model.weight.grad.detach().numpy(),
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
    np.testing.assert_allclose(h0.grad.detach().numpy(), [2.0, 4.0])
    np.testing.assert_allclose(h1.grad.detach().numpy(), [3.0 * math.exp(3.0), 4.0 * math.exp(4.0)])


def test_item2_copy_into_a_buffer_sends_the_gradient_back():
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    buf = tg.zeros(2, 2, dtype="float64")
    buf.copy_(y * y)
    assert buf.requires_grad
    buf.sum().backward()
    np.testing.assert_allclose(y.grad.detach().numpy(), 2 * y.detach().numpy())


def test_item2_overwritten_positions_get_no_gradient():
    x = leaf([1.0, 2.0, 3.0])
    z = x * 1.0                                # a non-leaf that requires grad
    z[1] = 10.0                                # position 1 no longer depends on x
    z.mul_(3.0)
    z.add_(x)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [4.0, 1.0, 4.0])
    np.testing.assert_allclose(z.detach().numpy(), [4.0, 32.0, 12.0])


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
    np.testing.assert_allclose(x.grad.detach().numpy(), 3.0 + 6.0 * x.detach().numpy())


def test_item2_buffer_read_before_it_required_grad_gives_no_gradient_there():
    h = leaf([2.0])
    buf = tg.zeros(2, dtype="float64")
    early = buf + 1.0                          # buf needed no grad when this was recorded
    buf[0] = h
    (early.sum() + buf.sum()).backward()
    np.testing.assert_allclose(h.grad.detach().numpy(), [1.0])


def test_item2_in_place_op_on_an_element_view_writes_through_and_is_recorded():
    buf = tg.zeros(3)
    buf[0].fill_(1.0)                          # x[i] of a 1-D tensor is a view, as torch
    assert buf.tolist() == [1.0, 0.0, 0.0]
    w = leaf([1.0, 2.0, 3.0])
    z = w * 1.0
    z[1].mul_(w[0])                            # z = [w0, w1 * w0, w2]
    z.sum().backward()
    np.testing.assert_allclose(w.grad.detach().numpy(), [1.0 + 2.0, 1.0, 1.0])


def test_item2_more_in_place_forms_match_torch():
    torch = pytest.importorskip("torch")
    values = np.array([[-1.5, 0.5, 2.0], [0.25, -0.75, 1.0]])

    def run(lib, tensor):
        x = tensor(values)
        y = x * 2.0
        y.masked_fill_(y > 3.0, 0.5)
        y.clamp_(-2.0, 1.5)
        y.neg_()
        y.relu_()
        (y * y).sum().backward()
        return y, x.grad

    for a, b in zip(run(tg, lambda v: Tensor(v, requires_grad=True)),
                    run(torch, lambda v: torch.tensor(v, requires_grad=True))):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy())


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
    np.testing.assert_array_equal(x.grad.detach().numpy(), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))
    np.testing.assert_array_equal(x.max(Tensor(np.full((2, 3), 2.5))).detach().numpy(),
                                  [[2.5, 5.0, 3.0], [4.0, 2.5, 2.5]])


# ----------------------------------------------------------------- 4: pow at 0

def test_item4_pow_gradients_at_a_zero_base():
    a, b = leaf([0.0, 2.0]), leaf([0.0, 3.0])
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.detach().numpy(), [0.0, 12.0])
    np.testing.assert_allclose(b.grad.detach().numpy(), [0.0, 8.0 * math.log(2.0)])


def test_item4_pow_with_a_python_number_base():
    x = leaf([0.0, 1.0, 2.0])
    (0.0 ** x).sum().backward()                # torch: [0, 0, 0]
    np.testing.assert_allclose(x.grad.detach().numpy(), [0.0, 0.0, 0.0])
    y = leaf([1.0, 2.0])
    ((-2.0) ** y).sum().backward()             # torch: nan (log of a negative base)
    assert np.isnan(y.grad.detach().numpy()).all()
    z = leaf([1.5])
    (2.0 ** z).sum().backward()
    np.testing.assert_allclose(z.grad.detach().numpy(), [2.0 ** 1.5 * math.log(2.0)])


# ----------------------------------------------------------------- 5: logsumexp at infinities

def test_item5_logsumexp_of_infinite_rows():
    x = Tensor(np.array([[-np.inf, -np.inf], [1.0, np.inf], [0.0, 0.0]]))
    np.testing.assert_array_equal(x.logsumexp(1).detach().numpy(), [-np.inf, np.inf, math.log(2.0)])
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


def test_item6_the_callers_gradients_are_never_written_into():
    x = leaf([1.0, 2.0])
    g = Tensor(np.array([1.0, 1.0]))
    for create_graph in (False, True, False):
        (x + 0.0).backward(g, create_graph=create_graph)
        with tg.no_grad():
            x.grad.mul_(3.0)
    assert g.tolist() == [1.0, 1.0]
    y = x * 1.0
    y.retain_grad()
    (y + 0.0).backward(g, retain_graph=True)
    (y + 0.0).backward(g)
    assert g.tolist() == [1.0, 1.0] and y.grad.tolist() == [2.0, 2.0]


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
    loss.backward()                   # torch: NaN loss, zero gradient (nothing was counted)
    np.testing.assert_array_equal(logits.grad.numpy(), np.zeros((2, 3)))


# ----------------------------------------------------------------- 10: grad mode

def test_item10_no_grad_decorates_a_generator():
    x = leaf([1.0])

    @tg.no_grad()
    def steps():
        for _ in range(2):
            yield (x * 2).requires_grad, tg.is_grad_enabled()

    assert list(steps()) == [(False, False), (False, False)]
    assert tg.is_grad_enabled()

    @tg.no_grad                                # without the call, as torch 2 allows
    def double(v):
        return v * 2
    assert not double(x).requires_grad and tg.is_grad_enabled()


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
    np.testing.assert_array_equal(weights.detach().numpy()[0] > 0, np.tril(np.ones((3, 5), bool)))
    torch = pytest.importorskip("torch")
    out, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(t.detach().numpy()) for t in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


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
    np.testing.assert_allclose(ours(Tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
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
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.detach().numpy(), t_weights.detach().numpy(), rtol=1e-10)


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
    np.testing.assert_allclose(x.grad.detach().numpy(), 2 * x.detach().numpy() + [3.0, -3.0])
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


def test_everyday_ops_have_their_torch_function_forms():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    pairs = [(tg.cumsum(x, 1), x.cumsum(1)), (tg.flip(x, 0), x.flip(0)),
             (tg.tril(x), x.tril()), (tg.triu(x, 1), x.triu(1)), (tg.prod(x, 1), x.prod(1)),
             (tg.std(x, 0), x.std(0)), (tg.norm(x), x.norm()), (tg.amax(x, 1), x.amax(1)),
             (tg.square(x), x * x), (tg.log1p(x), x.log1p()), (tg.expm1(x), x.expm1()),
             (tg.roll(x, 1, 1), x.roll(1, 1)), (tg.argmax(x, 1), x.argmax(1)),
             (tg.gather(x, 1, tg.tensor([[0], [2]])), x.gather(1, tg.tensor([[0], [2]])))]
    for ours, method in pairs:
        np.testing.assert_array_equal(ours.detach().numpy(), method.detach().numpy())
    assert [t.tolist() for t in tg.unbind(x, 1)] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    np.testing.assert_array_equal(tg.masked_fill(x, x > 2, -1.0).detach().numpy(),
                                  [[0, 1, 2], [-1, -1, -1]])


# ----------------------------------------------------------------- everyday ops vs torch

def _everyday_calls(F_lib, tensor):
    """(name, f(*inputs), input shapes...) per op, written once for both libraries: ``F_lib`` is
    tinygrad_rnn.functional or torch.nn.functional, ``tensor`` makes a constant."""
    index = np.array([[0, 1], [2, 3], [1, 1]])
    labels = np.array([1, 0, 4, -100])
    weight = np.array([0.5, 1.0, 2.0, 1.5, 0.7])
    return [
        ("gather", lambda x: x.gather(1, tensor(index)), (3, 4)),
        ("scatter_add", lambda x, s: x.scatter_add(1, tensor(index), s), (3, 4), (3, 2)),
        ("index_select", lambda x: x.index_select(1, tensor(np.array([3, 0, 3]))), (3, 4)),
        ("cumsum", lambda x: x.cumsum(1), (3, 4)),
        ("prod", lambda x: x.prod(1), (3, 4)),
        ("std", lambda x: x.std(0), (3, 4)),
        ("norm", lambda x: x.norm(dim=1), (3, 4)),
        ("norm_p3", lambda x: x.norm(3), (3, 4)),
        ("amax", lambda x: x.amax(1), (3, 4)),
        ("tril_triu", lambda x: x.tril(1) + x.triu(-1), (3, 4)),
        ("repeat", lambda x: x.repeat(2, 1, 3), (3, 4)),
        ("flip_roll", lambda x: x.flip(0, 1) * x.roll(1, 1), (3, 4)),
        ("unbind", lambda x: x.unbind(1)[2], (3, 4)),
        ("log1p_expm1", lambda x: x.abs().log1p() + x.expm1(), (3, 4)),
        ("masked_fill", lambda x: x.masked_fill(x > 0.5, -1.0), (3, 4)),
        ("clamp_tensor", lambda x, lo: x.clamp(lo, lo + 1.0), (3, 4), (4,)),
        ("leaky_relu_elu", lambda x: F_lib.leaky_relu(x, 0.2) + F_lib.elu(x, 0.7), (3, 4)),
        ("gelu", lambda x: F_lib.gelu(x) + F_lib.gelu(x, approximate="tanh"), (3, 4)),
        ("silu_logsigmoid", lambda x: F_lib.silu(x) + F_lib.logsigmoid(x), (3, 4)),
        ("layer_norm", lambda x, w, b: F_lib.layer_norm(x, (4,), w, b), (3, 4), (4,), (4,)),
        ("l1_smooth_l1", lambda x, y: F_lib.l1_loss(x, y) + F_lib.smooth_l1_loss(
            x, y, beta=0.5), (3, 4), (3, 4)),
        ("normalize_cosine", lambda x, y: F_lib.normalize(x) * 2 + F_lib.cosine_similarity(
            x, y).unsqueeze(1), (3, 4), (3, 4)),
        ("nll_weight", lambda x: F_lib.nll_loss(F_lib.log_softmax(x, 1), tensor(labels),
                                                 weight=tensor(weight)), (4, 5)),
        ("cross_entropy_smoothing_weight", lambda x: F_lib.cross_entropy(
            x, tensor(labels), weight=tensor(weight), label_smoothing=0.1), (4, 5)),
        ("cross_entropy_probabilities", lambda x, p: F_lib.cross_entropy(
            x, p.softmax(1), weight=tensor(weight), label_smoothing=0.2), (4, 5), (4, 5)),
    ]


def test_everyday_ops_match_torch_forward_and_gradient():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    rng = np.random.default_rng(3)
    ours, theirs = _everyday_calls(F, Tensor), _everyday_calls(TF, torch.tensor)
    for (name, f, *shapes), (_, g, *_) in zip(ours, theirs):
        arrays = [rng.standard_normal(s) for s in shapes]
        mine = [Tensor(a, requires_grad=True) for a in arrays]
        them = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, t_out = f(*mine), g(*them)
        np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
        seed = rng.standard_normal(tuple(t_out.shape))
        (out * Tensor(seed)).sum().backward()
        (t_out * torch.tensor(seed)).sum().backward()
        for a, b in zip(mine, them):
            np.testing.assert_allclose(a.grad.detach().numpy(), b.grad.detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
