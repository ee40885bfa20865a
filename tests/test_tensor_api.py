"""The public Tensor API: construction, dtypes, devices, conversions, factories, F helpers."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor
from tinygrad_rnn.backends import BackendUnavailable


def test_construction_follows_pytorch_dtype_rules():
    assert Tensor([1.0, 2.0]).dtype == tg.float32
    assert Tensor(2.5).dtype == tg.float32 and Tensor(2.5).shape == ()
    assert Tensor([1, 2]).dtype == tg.int64
    assert Tensor(np.ones(2)).dtype == tg.float64              # numpy keeps its dtype
    assert Tensor([1, 2], dtype="float64").dtype == tg.float64
    assert Tensor([[1.0], [2.0]]).shape == (2, 1)


def test_facts_and_conversions():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (x.shape, x.ndim, x.size, x.size(), x.size(1)) == ((2, 3), 2, 6, (2, 3), 3)
    assert x.device == "cpu" and x.is_leaf and x.requires_grad and x.grad is None
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert isinstance(x.detach().numpy(), np.ndarray) and x.sum().item() == 15.0
    assert x.detach().requires_grad is False
    assert "requires_grad=True" in repr(x) and "grad_fn=<mul>" in repr(x * 2.0)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


def test_float32_stays_float32_through_python_scalars():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 1.0001 + 0.0001) / 3.0 - 2 ** x
    assert y.dtype == tg.float32
    y.sum().backward()
    assert x.grad.dtype == tg.float32


def test_numpy_scalars_and_arrays_mix_with_tensors():
    x = Tensor([1.0, 2.0])
    assert (x * np.float64(2.0)).dtype == tg.float32
    assert (np.array([1.0, 1.0]) + x).tolist() == [2.0, 3.0]


def test_dtype_casts_are_differentiable():
    x = Tensor(np.array([1.5, 2.5], dtype=np.float32), requires_grad=True)
    y = x.double() * 2.0
    assert y.dtype == tg.float64
    y.sum().backward()
    assert x.grad.dtype == tg.float32 and x.grad.tolist() == [2.0, 2.0]


def test_factories(device):
    assert tg.zeros(2, 3, device=device).tolist() == [[0.0] * 3] * 2
    assert tg.ones((2,), dtype="float64", device=device).dtype == tg.float64
    assert tg.full((2,), 7.0, device=device).tolist() == [7.0, 7.0]
    assert tg.arange(4, device=device).tolist() == [0, 1, 2, 3]
    assert tg.arange(0.0, 1.0, 0.5, device=device).dtype == tg.float32
    assert tg.eye(2, device=device).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    x = tg.randn(3, 4, device=device, requires_grad=True)
    assert x.shape == (3, 4) and x.requires_grad and x.device.startswith(device)
    assert tg.zeros_like(x).shape == (3, 4) and tg.ones_like(x).dtype == x.dtype
    u = tg.rand(1000, device=device).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0


def test_manual_seed_repeats_random_numbers(device):
    tg.manual_seed(123)
    a = tg.randn(5, device=device).numpy()
    tg.manual_seed(123)
    b = tg.randn(5, device=device).numpy()
    tg.manual_seed(124)
    c = tg.randn(5, device=device).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_default_device_from_environment_variable():
    code = "import tinygrad_rnn as tg; print(tg.get_default_device(), tg.zeros(1).device)"
    env = dict(os.environ, TINYGRAD_RNN_DEVICE="cpu")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["cpu", "cpu"], out.stderr


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        Tensor([1.0], device="tpu")


def test_cuda_without_a_gpu_says_what_is_missing():
    if tg.cuda_available():
        pytest.skip("a GPU is usable here, so there is no missing piece to report")
    with pytest.raises(BackendUnavailable, match="CuPy is not installed|no GPU"):
        Tensor([1.0], device="cuda")
    with pytest.raises(BackendUnavailable, match="use device='cpu'"):
        tg.zeros(2, device="cuda:0")


def test_to_device_round_trip_keeps_values_and_gradient(device):
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    moved = x.to(device)
    assert moved.device.startswith(device)
    (moved * 3.0).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]
    assert moved.cpu().tolist() == [1.0, 2.0]


def test_comparisons_give_tensors_without_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == tg.bool_ and not mask.requires_grad
    assert mask.tolist() == [False, True, True] and (x == 2.0).tolist() == [False, True, False]
    assert (x[mask] * 1.0).sum().item() == 5.0


def test_getitem_forms():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    reference = np.arange(24.0).reshape(2, 3, 4)
    for index in [1, (0, 2), (slice(None), 1), (Ellipsis, 0), (None, 1), ([0, 1, 1],),
                  (slice(None), [2, 0]), reference > 10, (1, slice(None, None, -1))]:
        np.testing.assert_array_equal(x[index].numpy(), reference[index])
    np.testing.assert_array_equal(x[Tensor([1, 0])].numpy(), reference[[1, 0]])


def test_split_chunk_cat_stack_pad():
    x = Tensor(np.arange(10.0))
    assert [p.shape for p in x.split(4)] == [(4,), (4,), (2,)]
    assert [p.shape for p in x.chunk(3)] == [(4,), (4,), (2,)]
    assert [p.shape for p in x.split([3, 7])] == [(3,), (7,)]
    assert tg.cat(x.split(4)).tolist() == x.tolist()
    assert tg.stack([x, x], dim=1).shape == (10, 2)
    m = Tensor(np.ones((2, 3)))
    assert F.pad(m, (1, 2)).shape == (2, 6) and F.pad(m, (0, 0, 1, 1)).shape == (4, 3)


def test_functional_values_match_numpy():
    logits = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.2, 0.2, 0.2]])
    target = np.array([1, 2, 0])
    x = Tensor(logits)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(F.softmax(x, 1).numpy(), np.exp(log_p))
    np.testing.assert_allclose(F.log_softmax(x, 1).numpy(), log_p)
    np.testing.assert_allclose(F.cross_entropy(x, target).item(), -log_p[[0, 1, 2], target].mean())
    ignored = F.cross_entropy(x, np.array([1, -100, 0]))
    np.testing.assert_allclose(ignored.item(), -(log_p[0, 1] + log_p[2, 0]) / 2)
    assert F.cross_entropy(x, target, reduction="none").shape == (3,)
    y = np.array([[1.0, 0.0, 1.0]] * 3)
    bce = np.mean(-(y * np.log(1 / (1 + np.exp(-logits))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-logits)))))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y).item(), bce)
    np.testing.assert_allclose(F.mse_loss(x, np.zeros((3, 3))).item(), (logits ** 2).mean())
    np.testing.assert_allclose(x.logsumexp(1).numpy(), np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose(x.var(1).numpy(), logits.var(1, ddof=1))
    assert F.one_hot(Tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]


def test_softmax_is_stable_for_huge_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(F.log_softmax(x).numpy()).all()
    assert F.softmax(x).numpy()[0, 0] == 1.0


def test_cross_entropy_rejects_bad_targets():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(tg.OpError, match=r"cross_entropy: target values must lie in \[0, 3\)"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(tg.OpError, match="integers"):
        F.cross_entropy(x, np.array([0.0, 1.0]))


def test_embedding_accumulates_repeated_rows():
    weight = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    F.embedding(Tensor([[0, 2], [2, 2]]), weight).sum().backward()
    assert weight.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]
    with pytest.raises(tg.OpError, match=r"embedding: indices must lie in \[0, 3\)"):
        F.embedding(Tensor([3]), weight)


def test_dropout_train_eval_and_seed():
    x = Tensor(np.ones((100, 100), dtype=np.float32))
    assert F.dropout(x, 0.3, training=False) is x
    tg.manual_seed(7)
    a = F.dropout(x, 0.3).numpy()
    tg.manual_seed(7)
    b = F.dropout(x, 0.3).numpy()
    assert np.array_equal(a, b)
    kept = a != 0
    assert 0.65 < kept.mean() < 0.75 and np.allclose(a[kept], 1 / 0.7)


def test_from_numpy_shares_the_array_as_torch_does():
    a = np.arange(6.0).reshape(2, 3)
    t = tg.from_numpy(a)
    assert t.dtype == "float64" and t.shape == (2, 3) and t.device == "cpu"
    a[0, 0] = 7.0
    assert t[0, 0].item() == 7.0                 # the array's writes show in the tensor
    t.data[1, 2] = -1.0
    assert a[1, 2] == -1.0                       # and the tensor's in the array
    for array in (np.arange(3), np.zeros(2, bool), np.ones((2, 2), np.float32)[:, 1]):
        assert tg.from_numpy(array).dtype == str(array.dtype)
    with pytest.raises(TypeError, match="from_numpy: expected a NumPy ndarray, got list"):
        tg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="from_numpy: can't convert an array of dtype object"):
        tg.from_numpy(np.array([None]))
