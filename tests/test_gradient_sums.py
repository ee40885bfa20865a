"""How backward sums the gradients flowing into one tensor (tinygrad_rnn/accumulate.py): the
basic slices of one tensor fill one buffer (O(T), not T zero-filled copies), later sums add in
place into a buffer backward owns, and create_graph keeps every sum differentiable."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.accumulate import SliceGrad, Sum, add, finish


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
