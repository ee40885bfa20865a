"""tg.nn: the Module registry, state dicts, modes and conversions; the layers' values against
NumPy formulas and, with the same weights loaded, against torch.nn; gradients by gradcheck;
the initialisers' statistics."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import init


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4, padding_idx=0)
        self.scale = nn.Parameter(tg.ones(4))
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4, bias=False)])
        self.norm = nn.LayerNorm(4)
        self.head = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Dropout(0.25))
        self.register_buffer("count", tg.zeros(1))

    def forward(self, tokens):
        h = self.embed(tokens) * self.scale
        for block in self.blocks:
            h = block(h).tanh()
        return self.head(self.norm(h))


NET_PARAMETERS = ["scale", "embed.weight", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                  "norm.weight", "norm.bias", "head.0.weight", "head.0.bias"]


# ------------------------------------------------------------ the registry
def test_named_parameters_use_dotted_names_in_registration_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NET_PARAMETERS
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [name for name, _ in net.named_buffers()] == ["count"]
    assert [name for name, _ in net.named_modules()] == [
        "", "embed", "blocks", "blocks.0", "blocks.1", "norm", "head", "head.0", "head.1", "head.2"]
    assert [name for name, _ in net.named_children()] == ["embed", "blocks", "norm", "head"]
    assert list(net.state_dict()) == ["scale", "count"] + NET_PARAMETERS[1:]   # as PyTorch
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]


def test_named_parameters_match_torch_for_the_same_architecture():
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4, padding_idx=0)
            self.scale = torch.nn.Parameter(torch.ones(4))
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4),
                                               torch.nn.Linear(4, 4, bias=False)])
            self.norm = torch.nn.LayerNorm(4)
            self.head = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(),
                                            torch.nn.Dropout(0.25))
            self.register_buffer("count", torch.zeros(1))

    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_registry_follows_assignment():
    net = Net()
    shared = net.blocks[0].weight
    net.tied = nn.Linear(4, 4)
    net.tied.weight = shared                          # a tied weight is listed once
    names = [n for n, _ in net.named_parameters()]
    assert names.count("blocks.0.weight") == 1 and "tied.weight" not in names
    assert "tied.bias" in names
    state = net.state_dict()                          # ... but saved under both names (torch)
    assert state["tied.weight"].data is state["blocks.0.weight"].data
    net.load_state_dict(state)
    net.scale = tg.ones(4)                            # a plain tensor is no parameter
    assert "scale" not in dict(net.named_parameters())
    del net.tied
    assert not any(n.startswith("tied") for n, _ in net.named_parameters())
    assert net.blocks[1].bias is None and "bias" in net.blocks[1]._parameters


def test_assigning_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


# ------------------------------------------------------------ state dicts
def test_load_state_dict_round_trip_copies_values():
    source, target = Net(), Net()
    state = source.state_dict()
    assert target.load_state_dict(state) == ([], [])
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), name
        assert a.data is not b.data, name             # copied, not shared
    with tg.no_grad():
        source.scale.fill_(7.0)
    assert target.scale.tolist() == [1.0] * 4


def test_strict_load_lists_missing_and_unexpected_keys():
    net = Net()
    state = net.state_dict()
    del state["norm.bias"]
    state["extra.weight"] = tg.zeros(2)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert 'Missing key(s) in state_dict: "norm.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message


def test_shape_mismatches_are_reported_even_when_not_strict():
    net = Net()
    state = net.state_dict()
    state["head.0.weight"] = tg.zeros(5, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.0.weight: copying a param with "
                       r"shape \(5, 4\) from checkpoint, the shape in current model is \(3, 4\)"):
        net.load_state_dict(state, strict=False)


def test_non_strict_load_returns_the_keys_and_loads_the_rest():
    net = Net()
    state = {"norm.weight": tg.full((4,), 2.0), "unknown": tg.zeros(1)}
    result = net.load_state_dict(state, strict=False)
    assert isinstance(result, nn.IncompatibleKeys)
    assert result.unexpected_keys == ["unknown"]
    assert sorted(result.missing_keys) == sorted(k for k in NET_PARAMETERS + ["count"]
                                                 if k != "norm.weight")
    assert net.norm.weight.tolist() == [2.0] * 4


def test_state_dict_loads_from_numpy_arrays_and_casts():
    net = nn.Linear(3, 2)
    weights = {"weight": np.arange(6, dtype=np.float64).reshape(2, 3), "bias": np.zeros(2)}
    net.load_state_dict(weights)
    assert net.weight.dtype == tg.float32 and net.weight.detach().numpy().tolist() == [[0, 1, 2], [3, 4, 5]]


# ------------------------------------------------------------ modes and conversions
def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    x = tg.randn(4, 8)
    assert np.array_equal(net.head[2](x).numpy(), x.numpy())      # dropout off in eval
    net.train()
    assert all(m.training for m in net.modules())


def test_to_dtype_keeps_the_parameter_objects(device):
    net = Net().to(device)
    before = list(net.parameters())
    net(tg.tensor([[1, 2, 0]], device=device)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in before]
    assert all(p.dtype == tg.float64 and p.device == before[0].device for p in net.parameters())
    assert all(p.grad.dtype == tg.float64 for p in net.parameters() if p.grad is not None)
    assert net.count.dtype == tg.float64
    assert net(tg.tensor([[1, 2, 0]], device=device)).dtype == tg.float64
    assert all(p.dtype == tg.float32 for p in net.float().parameters())


def test_module_zero_grad():
    net = Net()
    net(tg.tensor([[1, 2, 3]])).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_is_the_module_tree():
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 2, bias=False),
                                                                   nn.ReLU()))
    expected = ("Sequential(\n"
                "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
                "  (1): Tanh()\n"
                "  (2): Sequential(\n"
                "    (0): Linear(in_features=3, out_features=2, bias=False)\n"
                "    (1): ReLU()\n"
                "  )\n"
                ")")
    assert repr(net) == expected
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Sequential(
        torch.nn.Linear(3, 2, bias=False), torch.nn.ReLU()))
    assert repr(theirs) == expected
    assert "Embedding(10, 4, padding_idx=0)" in repr(Net())
    assert "LayerNorm((4,), eps=1e-05)" in repr(Net())


# ------------------------------------------------------------ layers against NumPy
def test_linear_forward_is_x_wt_plus_b(device):
    layer = nn.Linear(5, 3, device=device)
    x = tg.randn(2, 4, 5, device=device)
    expected = x.detach().numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    bound = 1 / math.sqrt(5)
    assert np.abs(layer.weight.detach().numpy()).max() <= bound and np.abs(layer.bias.detach().numpy()).max() <= bound
    with pytest.raises(tg.OpError, match="last dimension is 4"):
        layer(tg.randn(2, 4, device=device))


def test_embedding_picks_rows_and_freezes_the_padding_row(device):
    layer = nn.Embedding(6, 3, padding_idx=2, device=device)
    assert not layer.weight.detach().numpy()[2].any()
    tokens = np.array([[1, 2, 5], [2, 2, 0]])
    out = layer(tg.tensor(tokens, device=device))
    np.testing.assert_array_equal(out.detach().numpy(), layer.weight.detach().numpy()[tokens])
    (out * tg.randn(2, 3, 3, device=device)).sum().backward()
    grad = layer.weight.grad.numpy()
    assert not grad[2].any() and grad[[0, 1, 5]].any(axis=1).all() and not grad[[3, 4]].any()


def test_layer_norm_normalises_over_the_last_dimensions(device):
    layer = nn.LayerNorm((3, 4), eps=1e-3, device=device)
    with tg.no_grad():
        layer.weight.copy_(tg.randn(3, 4, device=device).data)
        layer.bias.copy_(tg.randn(3, 4, device=device).data)
    x = tg.randn(2, 3, 4, device=device) * 3.0 + 1.0
    data = x.detach().numpy().astype(np.float64)
    mean = data.mean(axis=(1, 2), keepdims=True)
    var = data.var(axis=(1, 2), keepdims=True)
    expected = (data - mean) / np.sqrt(var + 1e-3) * layer.weight.detach().numpy() + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert plain.weight is None and list(plain.parameters()) == []
    with pytest.raises(tg.OpError, match="does not end with"):
        layer(tg.randn(2, 4, 3, device=device))


def test_dropout_zeroes_a_fraction_p_and_rescales_the_rest(device):
    layer = nn.Dropout(0.3)
    x = tg.ones(200, 100, device=device)
    out = layer(x).numpy()
    kept = out != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.03                         # unbiased in expectation
    assert np.array_equal(layer.eval()(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


# ------------------------------------------------------------ gradients
def test_linear_gradients_pass_gradcheck():
    layer = nn.Linear(4, 3).double()
    x = tg.randn(2, 4, dtype="float64", requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: layer(x), (x, layer.weight, layer.bias))


def test_layer_norm_gradients_pass_gradcheck():
    layer = nn.LayerNorm(5).double()
    with tg.no_grad():
        layer.weight.copy_(tg.randn(5, dtype="float64").data)
        layer.bias.copy_(tg.randn(5, dtype="float64").data)
    x = tg.randn(3, 5, dtype="float64", requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: layer(x), (x, layer.weight, layer.bias))


# ------------------------------------------------------------ against torch.nn
def _to_torch(torch, module, ours):
    module.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return module


def _compare(torch, ours, theirs, x_np, params, rtol=1e-10, integer_input=False):
    """Same input and output weights through both; outputs and every gradient must agree."""
    x = tg.tensor(x_np) if integer_input else tg.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np) if integer_input else torch.tensor(x_np, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=rtol)
    weights = np.random.default_rng(0).standard_normal(y.shape)
    (y * tg.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    if not integer_input:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=rtol)
    theirs_params = dict(theirs.named_parameters())
    for name in params:
        ours_grad = dict(ours.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(ours_grad, theirs_params[name].grad.numpy(), rtol=rtol,
                                   atol=rtol, err_msg=name)


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Linear(5, 3).double()
    theirs = _to_torch(torch, torch.nn.Linear(5, 3, dtype=torch.float64), ours)
    _compare(torch, ours, theirs, np.random.default_rng(1).standard_normal((2, 4, 5)),
             ["weight", "bias"])


def test_embedding_with_padding_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(7, 3, padding_idx=1).double()
    theirs = _to_torch(torch, torch.nn.Embedding(7, 3, padding_idx=1, dtype=torch.float64), ours)
    tokens = np.array([[1, 3, 3, 6], [0, 1, 1, 2]])
    _compare(torch, ours, theirs, tokens, ["weight"], integer_input=True)


def test_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.LayerNorm((3, 4)).double()
    with tg.no_grad():
        ours.weight.copy_(tg.randn(3, 4, dtype="float64").data)
        ours.bias.copy_(tg.randn(3, 4, dtype="float64").data)
    theirs = _to_torch(torch, torch.nn.LayerNorm((3, 4), dtype=torch.float64), ours)
    _compare(torch, ours, theirs, np.random.default_rng(2).standard_normal((2, 3, 4)) * 2,
             ["weight", "bias"], rtol=1e-9)


def test_sequential_loads_a_torch_state_dict_and_matches_it_in_float32():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.LayerNorm(8),
                                 torch.nn.Linear(8, 2), torch.nn.Sigmoid())
    ours = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 2),
                         nn.Sigmoid())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    _compare(torch, ours, theirs, x, [n for n, _ in ours.named_parameters()], rtol=2e-5)


# ------------------------------------------------------------ initialisers
@pytest.mark.parametrize("shape", [(16, 16), (6, 20), (20, 6), (4, 3, 5)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape, device):
    w = init.orthogonal_(tg.zeros(*shape, dtype="float64", device=device), gain=2.0)
    flat = w.numpy().reshape(shape[0], -1) / 2.0
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    if rows == cols:                                   # and it keeps norms: ||Wv|| = ||v||
        v = np.random.default_rng(0).standard_normal(cols)
        assert np.linalg.norm(flat @ v) == pytest.approx(np.linalg.norm(v))


def test_orthogonal_draws_differ_and_follow_the_seed():
    a = init.orthogonal_(tg.zeros(8, 8))
    b = init.orthogonal_(tg.zeros(8, 8))
    tg.manual_seed(0)
    c = init.orthogonal_(tg.zeros(8, 8))
    assert not np.array_equal(a.numpy(), b.numpy()) and np.array_equal(a.numpy(), c.numpy())
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal_(tg.zeros(5))


def test_xavier_uniform_stays_within_its_bound_and_fills_it(device):
    w = init.xavier_uniform_(tg.zeros(300, 500, device=device), gain=1.5)
    bound = 1.5 * math.sqrt(6 / (300 + 500))
    values = w.numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.999 * bound
    assert abs(values.mean()) < 0.01 * bound
    assert values.var() == pytest.approx(bound ** 2 / 3, rel=0.02)


def test_xavier_normal_and_the_basic_fills(device):
    std = 0.5 * math.sqrt(2 / (400 + 600))
    w = init.xavier_normal_(tg.zeros(400, 600, device=device), gain=0.5).numpy()
    assert w.std() == pytest.approx(std, rel=0.01) and abs(w.mean()) < 0.01 * std
    u = init.uniform_(tg.zeros(100_000, device=device), -2.0, 4.0).numpy()
    assert u.min() >= -2.0 and u.max() < 4.0 and u.mean() == pytest.approx(1.0, abs=0.03)
    n = init.normal_(tg.zeros(100_000, dtype="float64", device=device), 3.0, 0.5).numpy()
    assert n.mean() == pytest.approx(3.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.01)
    assert init.constant_(tg.zeros(3, device=device), 2.5).tolist() == [2.5] * 3
    assert init.ones_(tg.zeros(2, device=device)).tolist() == [1.0, 1.0]
    p = nn.Parameter(tg.ones(2))
    assert init.zeros_(p) is p and p.tolist() == [0.0, 0.0] and p.version > 0
    with pytest.raises(ValueError, match="fan in and fan out"):
        init.xavier_uniform_(tg.zeros(4))


def test_linear_takes_the_biases_and_sizes_torch_takes():
    """A bias that broadcasts ((1,), (), (N, out)) is added as torch adds it; in_features 0
    gives the bias alone; editing the bias in place after the call leaves backward working
    (the VJP never reads it, as torch's addmm)."""
    import tinygrad_rnn.functional as F
    x, w = np.arange(6.0).reshape(2, 3), np.ones((4, 3))
    for bias in (np.array([0.5]), np.array(0.5), np.arange(8.0).reshape(2, 4)):
        got = F.linear(tg.Tensor(x), tg.Tensor(w), tg.Tensor(bias)).numpy()
        np.testing.assert_allclose(got, x @ w.T + bias)
    empty = F.linear(tg.ones(4, 0), tg.ones(3, 0), tg.Tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(empty.numpy(), np.tile([1.0, 2.0, 3.0], (4, 1)))
    assert tg.nn.Linear(0, 3)(tg.ones(2, 0)).shape == (2, 3)
    b = tg.Tensor(np.zeros(4), requires_grad=True)
    moved = b * 1
    y = F.linear(tg.Tensor(x, requires_grad=True), tg.Tensor(w), moved)
    with tg.no_grad():
        moved.mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [2.0] * 4)
