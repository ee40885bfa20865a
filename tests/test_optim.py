"""tg.optim: each update rule against an independent NumPy re-derivation and against
torch.optim (when installed); in-place semantics, state dicts, clipping, lr schedules."""
import copy
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.errors import BackwardError
from tinygrad_rnn.optim.lr_scheduler import ExponentialLR, LambdaLR, StepLR

STEPS = 6


# ------------------------------------------------------------ the problem being optimised
# L(p) = sum(a * p^2) + sum(b * p), so dL/dp = 2 a p + b: the gradient depends on where p is,
# and the NumPy references can compute it without autodiff.
def problem(seed: int = 0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.uniform(0.5, 2.0, shape), rng.standard_normal(shape)


def tg_loss(p, a, b):
    return (p * p * a).sum() + (p * b).sum()


def run_tg(cls, config, p0, a, b, steps=STEPS, device="cpu", dtype="float64"):
    # tg.tensor may share memory with a NumPy array (as torch.as_tensor): copy, as the
    # optimizer edits the parameter in place
    p = tg.nn.Parameter(tg.tensor(p0.copy(), dtype=dtype, device=device))
    at, bt = tg.tensor(a, dtype=dtype, device=device), tg.tensor(b, dtype=dtype, device=device)
    opt = cls([p], **config)
    for _ in range(steps):
        opt.zero_grad()
        tg_loss(p, at, bt).backward()
        opt.step()
    return p, opt


# ------------------------------------------------------------ NumPy re-derivations
def np_sgd(p, grad_of, steps, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
           nesterov=False, maximize=False):
    buf = None
    for _ in range(steps):
        g = grad_of(p) * (-1 if maximize else 1)
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def np_adagrad(p, grad_of, steps, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
               initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    s = np.full_like(p, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = grad_of(p) * (-1 if maximize else 1) + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return p


def np_rmsprop(p, grad_of, steps, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
               momentum=0.0, centered=False, maximize=False):
    v, avg, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for _ in range(steps):
        g = grad_of(p) * (-1 if maximize else 1) + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            avg = alpha * avg + (1 - alpha) * g
            denom = np.sqrt(v - avg ** 2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
    return p


def np_adam(p, grad_of, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
            amsgrad=False, maximize=False, decoupled=False):
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = grad_of(p) * (-1 if maximize else 1)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def np_adamw(p, grad_of, steps, weight_decay=1e-2, **config):
    return np_adam(p, grad_of, steps, weight_decay=weight_decay, decoupled=True, **config)


CASES = [
    (optim.SGD, np_sgd, dict(lr=0.1)),
    (optim.SGD, np_sgd, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, np_sgd, dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    (optim.SGD, np_sgd, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    (optim.SGD, np_sgd, dict(lr=0.01, momentum=0.5, maximize=True)),
    (optim.Adagrad, np_adagrad, dict(lr=0.1)),
    (optim.Adagrad, np_adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                     initial_accumulator_value=0.5)),
    (optim.RMSprop, np_rmsprop, dict(lr=0.01)),
    (optim.RMSprop, np_rmsprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.9,
                                     weight_decay=0.1)),
    (optim.RMSprop, np_rmsprop, dict(lr=0.01, momentum=0.5, maximize=True)),
    (optim.Adam, np_adam, dict(lr=0.05)),
    (optim.Adam, np_adam, dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1,
                               amsgrad=True)),
    (optim.Adam, np_adam, dict(lr=0.01, maximize=True)),
    (optim.AdamW, np_adamw, dict(lr=0.05)),
    (optim.AdamW, np_adamw, dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in cfg.items())}" for cls, _, cfg in CASES]


@pytest.mark.parametrize("cls, reference, config", CASES, ids=IDS)
def test_update_rule_matches_numpy_rederivation(cls, reference, config, device):
    p0, a, b = problem()
    p, opt = run_tg(cls, config, p0, a, b, device=device)
    expected = reference(p0.copy(), lambda q: 2 * a * q + b, STEPS, **config)
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-11, atol=1e-13)
    assert p.device == tg.Tensor(0.0, device=device).device


@pytest.mark.parametrize("cls, reference, config", CASES, ids=IDS)
def test_update_rule_matches_torch(cls, reference, config):
    torch = pytest.importorskip("torch")
    p0, a, b = problem(1)
    for dtype, rtol in (("float64", 1e-12), ("float32", 2e-5)):
        p, opt = run_tg(cls, config, p0, a, b, dtype=dtype)
        tp = torch.tensor(p0, dtype=getattr(torch, dtype), requires_grad=True)
        ta, tb = (torch.tensor(v, dtype=getattr(torch, dtype)) for v in (a, b))
        topt = getattr(torch.optim, cls.__name__)([tp], **config)
        for _ in range(STEPS):
            topt.zero_grad()
            ((tp * tp * ta).sum() + (tp * tb).sum()).backward()
            topt.step()
        assert p.dtype == dtype
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)


def test_param_groups_have_their_own_hyperparameters_as_torch():
    torch = pytest.importorskip("torch")
    (p0, a, b), (q0, c, d) = problem(2), problem(3, shape=(5,))
    p, q = tg.nn.Parameter(tg.tensor(p0.copy())), tg.nn.Parameter(tg.tensor(q0.copy()))
    opt = optim.SGD([{"params": [p]}, {"params": q, "lr": 0.01, "momentum": 0.0}],
                    lr=0.1, momentum=0.9)
    tp, tq = (torch.tensor(v, requires_grad=True) for v in (p0, q0))
    topt = torch.optim.SGD([{"params": [tp]}, {"params": tq, "lr": 0.01, "momentum": 0.0}],
                           lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.0]
    for _ in range(4):
        opt.zero_grad()
        (tg_loss(p, tg.tensor(a), tg.tensor(b)) + tg_loss(q, tg.tensor(c), tg.tensor(d))).backward()
        opt.step()
        topt.zero_grad()
        ((tp * tp * torch.tensor(a)).sum() + (tp * torch.tensor(b)).sum()
         + (tq * tq * torch.tensor(c)).sum() + (tq * torch.tensor(d)).sum()).backward()
        topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(q.detach().numpy(), tq.detach().numpy(), rtol=1e-12)
    assert "momentum_buffer" not in opt.state.get(q, {})


def test_step_updates_parameters_in_place_and_bumps_their_version(device):
    model = tg.nn.Linear(4, 3, device=device)
    weight, array = model.weight, model.weight.data
    opt = optim.Adam(model.parameters(), lr=0.1)
    (model(tg.randn(2, 4, device=device)) ** 2).sum().backward()
    before, version = weight.detach().numpy().copy(), weight.version
    opt.step()
    assert model.weight is weight and weight.data is array       # same objects, new values
    assert weight.version > version
    assert not np.array_equal(weight.detach().numpy(), before)
    assert tg.is_grad_enabled()                                   # step left grad mode on


def test_a_graph_recorded_before_a_step_is_reported_stale():
    p = tg.nn.Parameter(tg.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)
    loss = (p * p).sum()                                          # mul saves p's values
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(BackwardError, match="modified in place"):
        loss.backward()


def test_parameters_without_gradients_are_left_alone():
    a, b = tg.nn.Parameter(tg.ones(2)), tg.nn.Parameter(tg.ones(2))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    (a * 3.0).sum().backward()
    opt.step()
    assert a.tolist() == [-0.5, -0.5] and b.tolist() == [1.0, 1.0]
    assert b not in opt.state and b.version == 0


def test_zero_grad():
    p = tg.nn.Parameter(tg.ones(3))
    opt = optim.SGD([p], lr=0.1)
    (p * 2.0).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_closure_is_evaluated_with_recording_on():
    p = tg.nn.Parameter(tg.tensor([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0 and p.tolist() == [0.5, -1.0]


def test_bad_arguments_are_refused_with_clear_errors():
    p = tg.nn.Parameter(tg.ones(2))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.Adam(p)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2.0])
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([{"params": [p]}, {"params": [p]}])


# ------------------------------------------------------------ state dicts
ALL = [(optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
       (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
       (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
       (optim.Adam, dict(lr=0.05, amsgrad=True)),
       (optim.AdamW, dict(lr=0.05, weight_decay=0.1))]


@pytest.mark.parametrize("cls, config", ALL, ids=[c.__name__ for c, _ in ALL])
def test_state_dict_round_trip_continues_identically(cls, config):
    p0, a, b = problem(4)
    p, opt = run_tg(cls, config, p0, a, b, steps=3, dtype="float32")
    state = opt.state_dict()
    assert set(state) == {"state", "param_groups"} and list(state["state"]) == [0]
    assert state["param_groups"][0]["params"] == [0]
    assert all(isinstance(v, (tg.Tensor, int)) for v in state["state"][0].values())

    q = tg.nn.Parameter(tg.tensor(p.detach().numpy().copy()))
    resumed = cls([q], lr=123.0)                 # hyper-parameters come from the state dict
    resumed.load_state_dict(copy.deepcopy(state))
    assert resumed.param_groups[0]["lr"] == config["lr"]
    at, bt = tg.tensor(a, dtype="float32"), tg.tensor(b, dtype="float32")
    for _ in range(3):
        for param, o in ((p, opt), (q, resumed)):
            o.zero_grad()
            tg_loss(param, at, bt).backward()
            o.step()
    assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    for key, value in opt.state[p].items():      # buffers were copied, not shared
        other = resumed.state[q][key]
        if isinstance(value, tg.Tensor):
            assert other.data is not value.data and np.array_equal(other.detach().numpy(), value.detach().numpy())
        else:
            assert other == value


def test_load_state_dict_checks_the_layout():
    p, q = tg.nn.Parameter(tg.ones(2)), tg.nn.Parameter(tg.ones(3))
    opt = optim.Adam([p, q])
    (p.sum() + q.sum()).backward()
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameter group"):
        optim.Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(state)
    with pytest.raises(ValueError, match="2 parameter"):
        optim.Adam([p]).load_state_dict(state)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        optim.Adam([q, p]).load_state_dict(state)


def test_loads_a_torch_optimizer_state_dict_and_continues_like_torch():
    torch = pytest.importorskip("torch")
    p0, a, b = problem(5)
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.05, weight_decay=0.01)

    def torch_step():
        topt.zero_grad()
        ((tp * tp * torch.tensor(a)).sum() + (tp * torch.tensor(b)).sum()).backward()
        topt.step()

    for _ in range(3):
        torch_step()
    p = tg.nn.Parameter(tg.tensor(tp.detach().numpy().copy()))
    opt = optim.Adam([p])
    opt.load_state_dict(topt.state_dict())       # torch tensors, a float tensor step
    assert opt.state[p]["step"] == 3 and opt.param_groups[0]["lr"] == 0.05
    for _ in range(3):
        torch_step()
        opt.zero_grad()
        tg_loss(p, tg.tensor(a), tg.tensor(b)).backward()
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)


# ------------------------------------------------------------ clipping
def _grads(device, *arrays):
    params = []
    for values in arrays:
        p = tg.nn.Parameter(tg.zeros(len(values), device=device, dtype="float64"))
        p.grad = tg.tensor(values, dtype="float64", device=device)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_returns_the_total_norm_and_clips(norm_type, device):
    values = ([3.0, -4.0], [12.0], [0.5, -0.5, 2.0])
    params = _grads(device, *values)
    flat = np.concatenate([np.asarray(v) for v in values])
    expected = np.linalg.norm(flat, ord=norm_type)
    total = tg.nn.utils.clip_grad_norm_(params, max_norm=2.0, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(expected, rel=1e-12)
    clipped = np.concatenate([p.grad.numpy() for p in params])
    np.testing.assert_allclose(clipped, flat * 2.0 / (expected + 1e-6), rtol=1e-12)
    assert np.linalg.norm(clipped, ord=norm_type) == pytest.approx(2.0, rel=1e-5)
    # below the limit nothing changes, and the same function lives in tg.optim
    total = tg.optim.clip_grad_norm_(params, max_norm=10.0, norm_type=norm_type)
    assert total.item() == pytest.approx(2.0, rel=1e-5)
    np.testing.assert_array_equal(np.concatenate([p.grad.numpy() for p in params]), clipped)


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,), (2, 2))]
    params = [tg.nn.Parameter(tg.zeros(g.shape)) for g in grads]
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(params, tparams, grads):
        p.grad, tp.grad = tg.tensor(g), torch.tensor(g)
    for norm_type in (2.0, math.inf):
        total = tg.nn.utils.clip_grad_norm_(params, 0.5, norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tparams, 0.5, norm_type)
        assert total.dtype == tg.float32
        assert total.item() == pytest.approx(ttotal.item(), rel=1e-6)
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)


def test_clipping_gradients_that_share_an_array_scales_each_once():
    a, b = tg.nn.Parameter(tg.tensor([3.0, 0.0])), tg.nn.Parameter(tg.tensor([0.0, 4.0]))
    (a + b).sum().backward()                 # backward hands a and b the same gradient array
    total = tg.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(2.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.5], rtol=1e-5)


def test_clip_grad_norm_edge_cases():
    p = tg.nn.Parameter(tg.zeros(2))
    assert tg.nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0        # no gradients at all
    p.grad = tg.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite|inf"):
        tg.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_(device):
    (p,) = _grads(device, [-3.0, 0.25, 2.0])
    assert tg.nn.utils.clip_grad_value_([p], 1.0) is None
    assert p.grad.tolist() == [-1.0, 0.25, 1.0]


# ------------------------------------------------------------ learning-rate schedules
def _opt(lr=0.1, groups=1):
    params = [{"params": [tg.nn.Parameter(tg.ones(1))], "lr": lr * (i + 1)} for i in range(groups)]
    return optim.SGD(params, lr=lr)


SCHEDULES = [(StepLR, dict(step_size=3, gamma=0.5), lambda e: 0.5 ** (e // 3)),
             (ExponentialLR, dict(gamma=0.9), lambda e: 0.9 ** e),
             (LambdaLR, dict(lr_lambda=lambda e: 1.0 / (1 + e)), lambda e: 1.0 / (1 + e))]


@pytest.mark.parametrize("cls, kwargs, factor", SCHEDULES, ids=[c.__name__ for c, *_ in SCHEDULES])
def test_schedules_follow_their_closed_form(cls, kwargs, factor):
    opt = _opt(groups=2)
    sched = cls(opt, **kwargs)
    seen = [sched.get_last_lr()]
    for _ in range(9):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr())
        assert seen[-1] == [g["lr"] for g in opt.param_groups]
    expected = [[0.1 * factor(e), 0.2 * factor(e)] for e in range(10)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)


@pytest.mark.parametrize("cls, kwargs, factor", SCHEDULES, ids=[c.__name__ for c, *_ in SCHEDULES])
def test_schedules_match_torch_exactly(cls, kwargs, factor):
    torch = pytest.importorskip("torch")
    opt = _opt(0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    sched = cls(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, cls.__name__)(topt, **kwargs)
    for _ in range(12):
        assert sched.get_last_lr() == tsched.get_last_lr()
        opt.step(), topt.step()
        sched.step(), tsched.step()


def test_schedule_state_dict_resumes_the_sequence():
    opt, fresh_opt = _opt(), _opt()
    sched = StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    fresh_opt.load_state_dict(opt.state_dict())          # the lr lives in the optimizer
    resumed = StepLR(fresh_opt, step_size=5, gamma=0.5)
    resumed.load_state_dict(state)
    for _ in range(5):
        sched.step()
        resumed.step()
        assert resumed.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(_opt(), step_size=2, last_epoch=4)
