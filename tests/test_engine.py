"""Structural properties of the tape and the backward engine (PyTorch's semantics)."""
import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import BackwardError, Tensor
from tinygrad_rnn.function import Function


def leaf(values, device="cpu", dtype="float64"):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, device=device)


def test_gradients_accumulate_over_two_backward_calls(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 3.0)


def test_graph_is_freed_after_backward_and_second_backward_raises(device):
    x = leaf([0.5, -0.2], device)
    loss = x.tanh().sum()
    loss.backward()
    with pytest.raises(BackwardError, match="second time.*retain_graph=True"):
        loss.backward()
    tanh = loss._node.inputs[0]._node         # sum saved nothing, so it keeps its edges
    assert tanh.inputs is None                # tanh's saved output was dropped


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([0.5, -0.2], device)
    loss = x.tanh().sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_non_leaf_grad_only_after_retain_grad(device):
    x = leaf([1.0, -1.0], device)
    h = x * 2.0
    kept = (x * 3.0).retain_grad()
    (h.tanh() + kept * kept).sum().backward()
    assert h.grad is None and not h.is_leaf
    np.testing.assert_allclose(kept.grad.numpy(), 2 * kept.detach().numpy())


def test_leaf_backward_with_explicit_gradient(device):
    x = leaf([1.0, 2.0], device)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_backward_needs_a_gradient_for_non_scalar_outputs():
    x = leaf([[1.0, 2.0]])
    with pytest.raises(BackwardError, match=r"shape \(1, 2\)"):
        (x * 2.0).backward()


def test_backward_on_tensor_without_grad_explains():
    with pytest.raises(BackwardError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_create_graph_gives_hessian_vector_products(device):
    # f(x) = sum(x^3 * sin(x)); H is diagonal: f'' = 6x sin x + 6x^2 cos x - x^3 sin x
    values = np.array([0.3, -1.2, 2.0])
    x = leaf(values, device)
    v = Tensor(np.array([1.0, -2.0, 0.5]), device=device)
    (g,) = tg.grad((x ** 3 * x.sin()).sum(), x, create_graph=True)
    assert g.requires_grad
    (hv,) = tg.grad((g * v).sum(), x)
    second = 6 * values * np.sin(values) + 6 * values**2 * np.cos(values) - values**3 * np.sin(values)
    np.testing.assert_allclose(hv.numpy(), second * v.numpy(), rtol=1e-10)
    assert x.grad is None                      # tg.grad does not touch .grad


def test_double_backward_through_backward(device):
    x = leaf([0.7, -0.4], device)
    y = x.tanh().sum()
    y.backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    t = np.tanh([0.7, -0.4])
    np.testing.assert_allclose(x.grad.numpy(), -2 * t * (1 - t**2), rtol=1e-10)


def test_grad_reports_unused_inputs():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(BackwardError, match="input 1 was not used"):
        tg.grad((x * 2.0).sum(), [x, unused])
    gx, gu = tg.grad((x * 2.0).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_grad_of_an_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.detach().numpy(), 2 * h.detach().numpy())


def test_detach_cuts_the_graph(device):
    x = leaf([1.0, 2.0], device)
    h = (x * 2.0).detach()
    assert h.is_leaf and not h.requires_grad
    y = (x * h).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), h.numpy())   # h treated as a constant


def test_long_chain_runs_backward_without_recursion_in_linear_time():
    def chain(length):
        x = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
        y = x
        for _ in range(length):
            y = y * 1.0001
        start = time.perf_counter()
        y.sum().backward()
        return time.perf_counter() - start, x

    short, _ = chain(10_000)
    long, x = chain(100_000)
    np.testing.assert_allclose(x.grad.numpy(), np.float32(1.0001) ** 100_000, rtol=1e-2)
    # linear: 10x the ops takes ~10x the time; quadratic would take ~100x
    assert long / short < 35, f"100k chain took {long:.2f}s vs {short:.3f}s for 10k"


def test_in_place_change_of_a_saved_tensor_is_detected(device):
    w = leaf([1.0, 2.0], device)
    x = Tensor(np.array([3.0, 4.0]), device=device)
    loss = (w * x).sum()
    x.mul_(2.0)                                # x was saved by mul for w's gradient
    with pytest.raises(BackwardError, match=r"mul .*input 1 .*version 0, now version 1"):
        loss.backward()


def test_optimizer_style_update_after_retained_backward_is_detected():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with tg.no_grad():
        w.sub_(w.grad, alpha=0.1)
    with pytest.raises(BackwardError, match="modified in place"):
        loss.backward()


def test_in_place_change_of_an_unsaved_input_is_allowed():
    w = leaf([1.0, 2.0])
    x = Tensor(np.array([3.0, 4.0]))
    loss = (w + x).sum()                       # add's VJP never reads x
    x.mul_(2.0)
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_in_place_on_a_tensor_that_requires_grad_is_refused():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad .*in-place .*no_grad"):
        w.add_(1.0)
    with tg.no_grad():
        w.add_(1.0)
    assert w.version == 1 and w.item() == 2.0


def test_in_place_ops_and_setitem_bump_the_version():
    x = Tensor(np.zeros(3))
    x[1] = 5.0
    x.add_(1.0).mul_(2.0)
    x.fill_(7.0)
    x.zero_()
    assert x.version == 5 and x.tolist() == [0.0, 0.0, 0.0]


def test_detect_anomaly_names_the_op_in_forward():
    x = leaf([-1.0, 1.0])
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError, match=r"log produced NaN .*test_engine.py:\d+"):
            x.log()
    x.log()                                    # outside anomaly mode NaN passes silently


def test_detect_anomaly_names_the_op_in_backward():
    x = leaf([0.0, 1.0])
    with tg.detect_anomaly():
        y = x.sqrt().sum()                     # d sqrt(x)/dx = inf at 0
        with pytest.raises(tg.AnomalyError, match=r"backward of sqrt .*test_engine.py:\d+"):
            y.backward()


def test_forward_only_graphs_do_not_leak():
    w = leaf(np.ones((64, 64)))

    def evaluate():
        h = Tensor(np.ones((8, 64)))
        for _ in range(10):
            h = (h @ w).tanh()
        return h

    probe = evaluate()
    ref = weakref.ref(probe._node)
    del probe
    assert ref() is None                       # freed by reference counting, no cycles
    gc.collect()
    tracemalloc.start()
    for _ in range(20):
        evaluate()
    _, peak_early = tracemalloc.get_traced_memory()
    for _ in range(200):
        evaluate()
    current, peak_late = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current < 200_000 and peak_late < peak_early * 1.5 + 100_000


def test_no_grad_records_nothing_and_works_as_decorator():
    x = leaf([1.0])
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
        with tg.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.is_leaf and z.requires_grad

    @tg.no_grad()
    def evaluate(t):
        return t * 2.0

    assert not evaluate(x).requires_grad and tg.is_grad_enabled()


def test_broadcast_gradients_are_summed_to_each_input_shape(device):
    a = leaf(np.ones((3, 1)), device)
    b = leaf(np.arange(4.0), device)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_tape_lists_the_wengert_list_in_order():
    x = Tensor(np.ones((32, 256), dtype=np.float32), requires_grad=True, name="x")
    h = (x * 2.0).tanh()
    lines = str(tg.tape(h.sum())).splitlines()
    assert lines[0].startswith("%0 = parameter x") and "(32, 256) float32" in lines[0]
    assert lines[1].startswith("%1 = mul(%0, 2.0)")
    assert lines[2].startswith("%2 = tanh(%1)") and lines[2].endswith("(32, 256) float32")
    assert lines[3].startswith("%3 = sum(%2)") and lines[3].endswith("() float32")


def test_tape_of_a_100k_chain_prints_without_recursion():
    y = Tensor(np.ones(2), requires_grad=True)
    for _ in range(100_000):
        y = y + 1.0
    tape = tg.tape(y)
    assert len(tape) == 100_000 and str(tape).count("\n") == 100_000


def test_scope_tags_the_recorded_ops():
    x = leaf([1.0])
    with tg.scope("t=3"):
        y = x * 2.0
        with tg.scope("gate"):
            z = y.tanh()
    assert y._node.scope == "t=3" and z._node.scope == "t=3/gate"
    assert "[t=3]" in str(tg.tape(z))


def test_errors_name_the_op_and_the_shapes():
    a, b = Tensor(np.ones((3, 4))), Tensor(np.ones((5, 6)))
    with pytest.raises(tg.OpError, match=r"^matmul: shapes \(3, 4\) and \(5, 6\) are not aligned"):
        a @ b
    with pytest.raises(tg.OpError, match=r"^add: cannot apply to \(3, 4\) float64 cpu and \(5, 6\)"):
        a + b
    with pytest.raises(tg.OpError, match=r"^reshape: cannot apply to \(3, 4\)"):
        a.reshape(5, 2)
    with pytest.raises(ValueError, match=r"item: .*shape \(3, 4\)"):
        a.item()


def test_mixed_devices_raise_a_clear_error():
    if not tg.cuda_available():
        pytest.skip("needs a GPU: mixes a cpu and a cuda tensor")
    with pytest.raises(tg.OpError, match=r"different devices \(cpu, cuda:0\)"):
        Tensor([1.0]) + Tensor([1.0], device="cuda")


def test_in_place_change_seen_through_a_view_is_detected():
    # Linear reads w through the view w.mT; an optimizer step changes w itself
    x = leaf([[1.0, 2.0]])
    w = leaf([[0.5, -0.5], [1.0, 2.0]])
    loss = ((x @ w.mT) ** 2).sum()
    with tg.no_grad():
        w.mul_(10.0)
    with pytest.raises(BackwardError, match=r"matmul .*input 1 .*version 0, now version 1"):
        loss.backward()


def test_in_place_change_through_a_view_bumps_the_base():
    x = Tensor(np.zeros((2, 3)))
    row = x[0]
    row.fill_(1.0)                             # writes into x's memory
    assert x.version == 1 and row.version == 1 and x.tolist()[0] == [1.0, 1.0, 1.0]
    assert x[[0, 1]]._base is None             # advanced indexing copies: not a view
    assert x.detach()._base is x


def test_leaf_gradients_are_separate_writable_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    (a + b).sum().backward()                   # add hands gy to both; b's is a broadcast sum
    assert a.grad is not b.grad
    a.grad.data *= 2.0                         # writable, and b.grad is unaffected
    assert b.grad.tolist() == [2.0]


def test_tensor_copies_the_array_it_is_given():
    source = np.ones(3)
    t = Tensor(source, requires_grad=True)
    with tg.no_grad():
        t.mul_(5.0)
    assert source.tolist() == [1.0, 1.0, 1.0]


class _Scale(Function):
    """y = 2 x, whose backward makes a fresh array and can keep it, or its tensor, or hand
    one tensor to both inputs: what the engine must notice before making it x.grad."""
    keep = None                  # None, "array", "tensor", "view"

    def forward(self, x, w):
        return 2.0 * x * w

    def backward(self, gy, y):
        x, w = self.edges
        array = 2.0 * gy.data * np.ones(x.shape)
        type(self).made = weakref.ref(array)
        grad = Tensor._make(array)
        if self.keep == "array":
            type(self).kept = array
        elif self.keep == "tensor":
            type(self).kept = grad
        elif self.keep == "view":
            type(self).kept = array
            grad = Tensor._make(array[:])
        return grad, grad if self.keep == "both" else None


def test_a_gradient_nothing_else_holds_becomes_grad_without_a_copy():
    x, w = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    _Scale().apply(x, w).sum().backward()
    assert x.grad.data is _Scale.made()          # the VJP's own array, not a copy of it
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("keep", ["array", "tensor", "view", "both", "hook"])
def test_a_gradient_held_elsewhere_is_copied_into_grad(keep):
    """A VJP that keeps the array (or tensor) it returns, returns a view, or hands one tensor to
    two leaves; or a hook that keeps the gradient: .grad is then memory of its own, so the
    in-place accumulation of a later backward changes nothing else."""
    class Op(_Scale):
        pass
    Op.keep = keep
    x, w = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    stash = []
    if keep == "hook":
        x.register_hook(lambda g: stash.append(g))
    Op().apply(x, w).sum().backward()
    other = {"array": lambda: Op.kept, "tensor": lambda: Op.kept.data, "view": lambda: Op.kept,
             "both": lambda: w.grad.data, "hook": lambda: stash[0].data}[keep]()
    assert x.grad.data is not other and not np.shares_memory(x.grad.data, other)
    Op().apply(x, w).sum().backward()             # accumulates into x.grad in place
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])
    np.testing.assert_array_equal(other, [4.0, 4.0] if keep == "both" else [2.0, 2.0])
