"""How backward sums the gradients flowing into one tensor (tinygrad_rnn/accumulate.py): the
basic slices of one tensor fill one buffer (O(T), not T zero-filled copies), later sums add in
place into a buffer backward owns, and create_graph keeps every sum differentiable."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.accumulate import SliceGrad, Sum, add, finish
from tinygrad_rnn.ops import column_sums, row_sums


def test_slices_of_one_tensor_fill_one_buffer():
    T, shape = 6, (6, 2, 3)
    total = None
    buffers = set()
    with tg.no_grad():                             # as in a first-order backward
        for t in range(T):
            total = add(total, SliceGrad((t,), shape, tg.Tensor(np.full((2, 3), t + 1.0))))
            if isinstance(total, Sum):
                buffers.add(id(total.array))
    assert len(buffers) == 1                       # one buffer, written T times
    expected = np.arange(1.0, T + 1)[:, None, None] * np.ones(shape)
    np.testing.assert_array_equal(finish(total).detach().numpy(), expected)


def test_a_loop_over_slices_gets_the_same_gradient_as_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 4))
    w = rng.standard_normal((5, 4))
    x = tg.Tensor(a, requires_grad=True)
    # slices along time, overlapping ones, a step, a dense use and a float32 slice's product
    loss = sum((x[t] * tg.Tensor(w[t])).sum() for t in range(5))
    loss = loss + (x[1:3] ** 2).sum() + x[::2, 1].sum() + (x * 3).sum()
    loss.backward()
    expected = w + 3
    expected[1:3] += 2 * a[1:3]
    expected[::2, 1] += 1
    np.testing.assert_allclose(x.grad.detach().numpy(), expected, rtol=1e-12)


def test_slice_gradients_stay_differentiable_with_create_graph():
    x = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = sum(x[i] ** 3 for i in range(3)) + (x[:2] ** 2).sum()
    (g,) = tg.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2 + np.array([2, 4, 0]) * 1.0)
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.detach().numpy(), 6 * x.detach().numpy() + np.array([2.0, 2.0, 0.0]))


def test_leaves_given_one_array_by_a_vjp_get_their_own_grads():
    a = tg.Tensor(np.ones(3), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()                       # add's VJP hands gy to both
    a.grad.data[0] = 7.0
    assert b.grad.detach().numpy()[0] == 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sums_keep_the_tensor_dtype(dtype):
    x = tg.Tensor(np.ones((4, 3), dtype=dtype), requires_grad=True)
    (x[0].sum() + x[1].sum() + x.sum() + x[2:].sum()).backward()
    assert x.grad.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.grad.detach().numpy(), [[2] * 3, [2] * 3, [2] * 3, [2] * 3])


def test_a_basic_slice_vjp_allocates_nothing():
    x = tg.Tensor(np.ones((100, 3)), requires_grad=True)
    y = x[3]
    with tg.no_grad():                             # first-order backward runs without grad
        (g,) = y._node.backward(tg.Tensor(np.ones(3)), y)
    assert isinstance(g, SliceGrad) and g.shape == (100, 3) and g.data.shape == (3,)


def test_a_slice_that_is_the_whole_tensor_is_not_copied_and_not_shared():
    x = tg.Tensor(np.ones((1, 4)), requires_grad=True)
    y = tg.Tensor(np.ones((1, 4)), requires_grad=True)
    (x[0] * 2 + (x + y)[0]).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [[3.0] * 4])
    np.testing.assert_array_equal(y.grad.detach().numpy(), [[1.0] * 4])
    z = tg.Tensor(np.ones((1, 3)), requires_grad=True)
    w = tg.Tensor(np.ones((1, 3)), requires_grad=True)
    (z + w)[0].sum().backward()                    # one gradient, reshaped, for both leaves
    z.grad.data[0, 0] = 5.0
    assert w.grad.detach().numpy()[0, 0] == 1.0


def test_a_matrix_used_in_many_products_sums_its_gradient_as_one_product():
    rng = np.random.default_rng(1)
    w = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    xs = [rng.standard_normal((2, 3)) for _ in range(5)]
    loss = sum(((tg.Tensor(x) @ w) ** 2).sum() for x in xs) + (w * w).sum()
    loss.backward()
    expected = sum(2 * x.T @ (x @ w.detach().numpy()) for x in xs) + 2 * w.detach().numpy()
    np.testing.assert_allclose(w.grad.detach().numpy(), expected, rtol=1e-12)


def test_product_gradients_join_into_blocks_of_one_matmul():
    from tinygrad_rnn.accumulate import ProductGrad
    rng = np.random.default_rng(2)
    pairs = [(rng.standard_normal((4, 3)), rng.standard_normal((4, 5))) for _ in range(6)]
    with tg.no_grad():
        total = None
        for a, g in pairs:
            total = add(total, ProductGrad(a, g))
        assert isinstance(total, Sum) and len(total.products.pairs) == 6   # still one block
        got = finish(total).detach().numpy()
    np.testing.assert_allclose(got, sum(a.T @ g for a, g in pairs), rtol=1e-12)


def test_parts_of_hands_over_one_part_without_the_zeros_of_the_others():
    from tinygrad_rnn.accumulate import parts_of
    values = tg.Tensor(np.arange(6.0).reshape(2, 3))
    for index in (1, (1,), -2):
        parts = parts_of(SliceGrad(index, (3, 2, 3), values), 3)
        assert parts[0] is None and parts[2] is None and parts[1] is values.data, index
    parts = parts_of(SliceGrad((2, 1), (3, 2, 3), tg.Tensor(np.ones(3))), 3)  # one step: dense
    assert [p.tolist() for p in parts] == [[[0.0] * 3] * 2] * 2 + [[[0.0] * 3, [1.0] * 3]]
    whole = tg.Tensor(np.arange(12.0).reshape(2, 2, 3))
    assert [p.tolist() for p in parts_of(whole, 2)] == whole.numpy().tolist()


def _softmax_minus_onehot(x, target, scale):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(target)), target] -= 1
    return p * scale


def test_cross_entropy_gradient_on_every_path_of_its_picked_entries():
    """nll_loss hands log_softmax a lazy PickGrad (no zeros), and log_softmax writes its
    gradient over its kept exponentials when the graph is freed after: the plain backward,
    a retained one (twice: 2x), a hook on the log-probabilities (the picks made one array
    first) and logits read by two losses (the picks added into a sum) all give the formula."""
    import tinygrad_rnn.functional as F
    rng = np.random.default_rng(3)
    x, target = rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    want = _softmax_minus_onehot(x, target, 1 / 7)

    def run(twice=False, hook=False, other=None):
        logits = tg.Tensor(x, requires_grad=True)
        log_probs = F.log_softmax(logits, dim=1)
        if hook:
            log_probs.register_hook(lambda g: g)
        loss = F.nll_loss(log_probs, target)
        if other is not None:
            loss = loss + (logits * tg.Tensor(other)).sum()
        if twice:
            loss.backward(retain_graph=True)
        loss.backward()
        return logits.grad.numpy()

    np.testing.assert_allclose(run(), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(run(twice=True), 2 * want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(run(hook=True), want, rtol=1e-12, atol=1e-15)
    other = rng.standard_normal((7, 5))
    np.testing.assert_allclose(run(other=other), want + other, rtol=1e-12, atol=1e-15)
    for first in (True, False):     # log_probs read twice: the picks summed with a dense part
        logits = tg.Tensor(x, requires_grad=True)
        log_probs = F.log_softmax(logits, dim=1)
        dense = lambda: (log_probs * tg.Tensor(other)).sum()  # noqa: E731
        loss = dense() + F.nll_loss(log_probs, target) if first else \
            F.nll_loss(log_probs, target) + dense()
        loss.backward()
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        through = other - p * other.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(logits.grad.numpy(), want + through, rtol=1e-12, atol=1e-15)
    logits = tg.Tensor(x, requires_grad=True)       # cross_entropy's own path, retained 3x
    loss = F.cross_entropy(logits, target, reduction="sum")
    for retain in (True, True, False):
        loss.backward(retain_graph=retain)
    np.testing.assert_allclose(logits.grad.numpy(), 3 * 7 * want, rtol=1e-12, atol=1e-15)


def test_cross_entropy_logits_edited_in_place_after_the_loss():
    """As torch (whose LogSoftmax keeps its output): the first-order gradient reads the kept
    softmax, so editing the logits after the loss changes nothing; the paths that read the
    logits' values (create_graph, tangents) refuse, naming the op."""
    import tinygrad_rnn.functional as F
    rng = np.random.default_rng(4)
    x, target = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    leaf = tg.Tensor(x, requires_grad=True)
    logits = leaf * 1.0
    loss = F.cross_entropy(logits, target)
    with tg.no_grad():
        logits.add_(5.0)
    loss.backward()
    np.testing.assert_allclose(leaf.grad.numpy(), _softmax_minus_onehot(x, target, 1 / 6),
                               rtol=1e-12, atol=1e-15)
    logits = leaf * 1.0
    loss = F.cross_entropy(logits, target)
    with tg.no_grad():
        logits.add_(5.0)
    with pytest.raises(tg.BackwardError, match=r"cross_entropy \(tape entry %\d+\): its input 0 was modified in place"):
        tg.grad(loss, leaf, create_graph=True)


def test_a_product_of_many_rows_is_made_at_once_and_a_thin_one_waits():
    """A lazy pair holds both of its arrays until backward ends; from EAGER_ROWS rows on the
    product is one efficient matmul anyway, so it is made at once (a read-out's gradient and
    input are not kept past the sweep)."""
    from tinygrad_rnn.accumulate import EAGER_ROWS, ProductGrad, product_grad
    rng = np.random.default_rng(5)
    for rows, lazy in ((EAGER_ROWS - 1, True), (EAGER_ROWS, False)):
        a, g = rng.standard_normal((rows, 3)), rng.standard_normal((rows, 2))
        made = product_grad(a, g)
        assert isinstance(made, ProductGrad) == lazy
        np.testing.assert_allclose(finish(made).numpy(), a.T @ g, rtol=1e-12)


def test_cross_entropy_keeps_the_logits_dtype_whatever_the_weights():
    import tinygrad_rnn.functional as F
    x = tg.randn(4, 3, requires_grad=True)                      # float32
    for reduction in ("mean", "sum", "none"):
        loss = F.cross_entropy(x, np.array([0, 1, 2, 1]), weight=np.array([1.0, 2.0, 3.0]),
                               reduction=reduction)
        assert loss.dtype == "float32", reduction
        loss.sum().backward()
        assert x.grad.dtype == "float32"


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 40), columns=st.integers(0, 40),
       dtype=st.sampled_from(["float32", "float64", "float16", "int64"]), seed=st.integers(0, 99))
def test_column_and_row_sums_are_numpys_sums(rows, columns, dtype, seed):
    """The bias gradients' and cross_entropy's sums (a matrix-vector product with ones where
    BLAS has one): NumPy's sum over that axis, to rounding, with its shape and dtype."""
    a = (np.random.default_rng(seed).standard_normal((rows, columns)) * 10).astype(dtype)
    for ours, axis in ((column_sums(a), 0), (row_sums(a), 1)):
        expected = a.sum(axis=axis)
        assert ours.shape == expected.shape and ours.dtype == expected.dtype
        exact = a.astype(np.float64).sum(axis=axis)
        tolerance = {"float32": 1e-5, "float64": 1e-13}.get(dtype, 0)
        np.testing.assert_allclose(ours, expected if tolerance == 0 else exact,
                                   rtol=tolerance, atol=tolerance * np.abs(a).sum())
