"""What a PyTorch user types first works the same here: Python conversions, .numpy()'s refusal,
the repr's dtype, torch's names (nn.LSTM, nn.functional, the loss modules, ...)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def test_python_conversions_of_a_one_element_tensor():
    x = tg.Tensor([1.5, 2.0], requires_grad=True)
    loss = (x * x).sum()                                   # 6.25, requires grad
    assert float(loss) == 6.25 and isinstance(float(loss), float)
    assert int(loss) == 6 and isinstance(int(loss), int)
    assert f"{loss:.3f}" == "6.250" and f"{tg.tensor(7):>4d}" == "   7"
    assert f"{loss}" == str(loss)                          # no spec: as str(), like torch
    assert [10, 20, 30][tg.tensor(2)] == 30                # __index__ for integer tensors
    with pytest.raises(ValueError, match=r"only one element tensors can be converted to Python scalars"):
        float(x)
    with pytest.raises(TypeError):
        f"{x:.3f}"                                          # as torch: only 0-d tensors take a spec
    with pytest.raises(TypeError, match="integer tensors"):
        [1, 2][tg.tensor(1.0)]


def test_np_asarray_gives_the_values_not_an_object_array():
    t = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.shape == (2, 2) and a.tolist() == [[1, 2], [3, 4]]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t).tolist() == t.tolist()


def test_numpy_refuses_a_tensor_that_requires_grad_like_torch():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    W = tg.Tensor([3.0, 4.0], requires_grad=True)
    y = (x * W).sum()
    for t in (W, y):
        with pytest.raises(RuntimeError, match=r"requires grad; use tensor.detach\(\).numpy\(\)"):
            t.numpy()
        with pytest.raises(RuntimeError, match="requires grad"):
            np.asarray(t)
    assert W.detach().numpy().tolist() == [3.0, 4.0]
    assert W.tolist() == [3.0, 4.0] and y.item() == 11.0   # as torch: these still work
    # the edit numpy() used to allow slipped past the version check; through detach() it is
    # a view sharing W's version counter, so backward catches it
    W.detach()[0] = 1000.0
    with pytest.raises(tg.BackwardError, match="modified in place"):
        y.backward()


def test_repr_names_the_dtype_as_torch_does():
    assert repr(tg.Tensor([1.0, 2.0])) == "tensor([1., 2.])"               # float32: default
    assert repr(tg.Tensor([1.0, 2.0], dtype="float64")) == "tensor([1., 2.], dtype=float64)"
    assert repr(tg.Tensor([1, 2])) == "tensor([1, 2])"                     # int64: default
    assert repr(tg.Tensor([1, 2], dtype="int32")) == "tensor([1, 2], dtype=int32)"
    assert repr(tg.Tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(tg.tensor(3.0)) == "tensor(3.)"


def test_torch_names_for_the_models_are_the_same_classes():
    import tinygrad_rnn.models as M
    assert nn.LSTM is M.LSTM and nn.GRU is M.GRU and nn.RNN is M.RNN
    assert nn.LSTMCell is M.LSTMCell and nn.GRUCell is M.GRUCell and nn.RNNCell is M.RNNCell
    assert nn.MultiheadAttention is M.MultiHeadAttention
    assert nn.TransformerEncoderLayer is M.TransformerEncoderLayer
    lstm = nn.LSTM(3, 4, batch_first=True)
    out, (h, c) = lstm(tg.randn(2, 5, 3))
    assert out.shape == (2, 5, 4) and h.shape == (1, 2, 4)


def test_tg_models_and_nn_functional_need_no_second_import():
    code = ("import tinygrad_rnn as tg\n"
            "print(tg.models.LSTM.__name__)\n"
            "import tinygrad_rnn.nn.functional as F\n"
            "print(F is tg.functional, tg.nn.functional is tg.functional)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LSTM", "True", "True"]


def test_loss_modules_match_the_functions():
    import tinygrad_rnn.functional as F
    logits = tg.Tensor([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]], requires_grad=True)
    target = tg.Tensor([1, 2])
    ce = nn.CrossEntropyLoss()(logits, target)
    assert float(ce) == pytest.approx(float(F.cross_entropy(logits, target)))
    assert float(nn.NLLLoss()(logits.log_softmax(1), target)) == pytest.approx(float(ce), rel=1e-6)
    assert float(F.nll_loss(logits.log_softmax(dim=1), target, reduction="sum")) == \
        pytest.approx(2 * float(ce), rel=1e-6)
    assert nn.NLLLoss(ignore_index=1)(logits.log_softmax(1), target).shape == ()
    y = tg.Tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert float(nn.MSELoss(reduction="sum")(logits, y)) == pytest.approx(
        float(((logits - y) * (logits - y)).sum()))
    assert float(nn.BCEWithLogitsLoss()(logits, y)) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(logits, y)))
    with pytest.raises(tg.OpError, match="nll_loss: target must hold class indices"):
        F.nll_loss(logits, tg.Tensor([0.5, 1.0]))


def test_tensor_softmax_methods_and_module_apply():
    x = tg.Tensor([[1.0, 2.0, 3.0]])
    assert np.allclose(x.softmax(-1).numpy().sum(), 1.0)
    assert np.allclose(x.log_softmax(dim=1).exp().numpy(), x.softmax(1).numpy())
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Linear", "Tanh", "Linear", "Sequential"]    # children first, as torch

    def zero_biases(m):
        if isinstance(m, nn.Linear):
            with tg.no_grad():
                m.bias.zero_()
    net.apply(zero_biases)
    assert all(float(abs(m.bias).sum()) == 0.0 for m in net if isinstance(m, nn.Linear))


def test_inference_mode_records_nothing():
    x = tg.Tensor([1.0], requires_grad=True)
    with tg.inference_mode():
        assert not tg.is_grad_enabled()
        assert not (x * 2.0).requires_grad
    assert tg.is_grad_enabled()
    with tg.inference_mode(False):
        assert (x * 2.0).requires_grad

    @tg.inference_mode()
    def predict(t):
        return t * 2.0
    assert not predict(x).requires_grad


def test_conversions_behave_as_torchs():
    torch = pytest.importorskip("torch")

    def outcome(f):
        try:
            return ("ok", f())
        except Exception as error:   # noqa: BLE001  (the exception type is what is compared)
            return ("raises", type(error).__name__)
    for make in (lambda lib: lib.tensor(2.5), lambda lib: lib.tensor([2.5]),
                 lambda lib: lib.tensor([1.0, 2.0]), lambda lib: lib.tensor(3)):
        ours, theirs = make(tg), make(torch)
        for convert in (float, int, lambda t: f"{t:.2f}", lambda t: [0, 1, 2, 3][t]):
            assert outcome(lambda: convert(ours)) == outcome(lambda: convert(theirs))
    grad_ours = tg.tensor([1.0], requires_grad=True)
    grad_theirs = torch.tensor([1.0], requires_grad=True)
    assert outcome(grad_ours.numpy) == outcome(grad_theirs.numpy) == ("raises", "RuntimeError")
    for dtype in ("float32", "float64", "int64", "int32"):
        ours = repr(tg.Tensor([1, 2], dtype=dtype))
        theirs = repr(torch.tensor([1, 2], dtype=getattr(torch, dtype)))
        assert ours == theirs.replace("torch.", "")
