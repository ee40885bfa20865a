"""tg.profile: per-op calls, forward/backward time, saved and output bytes, by name and scope."""
from __future__ import annotations

import time

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.state import STATE


def _run(steps: int = 3):
    x = tg.tensor(np.ones((4, 5)), dtype="float64", requires_grad=True)
    w = tg.tensor(np.full((4, 5), 0.5), dtype="float64", requires_grad=True)
    h = x
    for t in range(steps):
        with tg.scope(f"t={t}"):
            h = (h * w).tanh()
    loss = h.sum()
    loss.backward()
    return x, w


def test_counts_bytes_and_times_by_name():
    with tg.profile() as prof:
        _run()
    rows = {r.key: r for r in prof.key_averages()}
    # mul and tanh run once per step; the mul/sub ops inside tanh's VJP are backward time
    assert rows["mul"].calls == 3 and rows["tanh"].calls == 3 and rows["sum"].calls == 1
    assert rows["mul"].backward_calls == 3 and rows["tanh"].backward_calls == 3
    assert all(r.forward_time > 0 and r.backward_time > 0 for r in rows.values())
    one = 4 * 5 * 8                                     # one (4, 5) float64 tensor
    assert rows["mul"].output_bytes == 3 * one and rows["sum"].output_bytes == 8
    # saved for backward, each tensor once: mul saves h and w (w only the first time, and h
    # is tanh's output, which tanh saved already from step 2 on); tanh saves its output
    assert rows["mul"].saved_bytes == 2 * one
    assert rows["tanh"].saved_bytes == 3 * one
    assert rows["sum"].saved_bytes == 0


def test_grouped_by_scope_and_memory_by_step():
    with tg.profile() as prof:
        _run(steps=4)
    memory = prof.memory_by_step()
    one = 4 * 5 * 8
    assert list(memory) == ["t=0", "t=1", "t=2", "t=3", "(no scope)"]
    assert memory["t=0"] == 3 * one and memory["t=1"] == memory["t=3"] == one
    steps = {r.key: r for r in prof.key_averages(group_by="scope")}
    assert steps["t=2"].calls == 2 and steps["t=2"].backward_calls == 2


def test_table_like_torch():
    with tg.profile() as prof:
        _run()
    text = prof.table(sort_by="calls", row_limit=2)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["Name", "Calls", "Forward", "Backward", "Total"]
    assert lines[2].split()[:2] in (["mul", "3"], ["tanh", "3"]) and len(lines) == 6
    assert "Total time" in lines[-1]
    assert prof.table(sort_by="cpu_time_total") == prof.table(sort_by="total_time")
    assert prof.table(group_by="scope").splitlines()[0].startswith("Scope")
    with pytest.raises(ValueError, match="sort_by must be one of"):
        prof.table(sort_by="speed")


def test_nothing_recorded_outside_and_no_nesting():
    _run()
    assert STATE.profiler is None
    with tg.profile() as prof:
        with pytest.raises(RuntimeError, match="already running"):
            with tg.profile():
                pass
        with tg.no_grad():
            (tg.ones(3) * 2).sum()
    assert STATE.profiler is None
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["mul"].calls == 1 and rows["mul"].saved_bytes == 0    # not recorded: nothing saved


def test_char_lm_profile_script():
    """bench/profile_charlm.py's training step: the LSTM (one sweep entry fused, per-step ops
    composed) and the matmuls are there, and memory_by_step has one entry per step either way
    (the fused sweep's own arrays split by step)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / "profile_charlm.py"
    spec = importlib.util.spec_from_file_location("profile_charlm", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for fused in (True, False):
        prof = script.profile_step(vocab=7, hidden=4, batch=2, seq_len=5, fused=fused)
        names = {r.key for r in prof.key_averages()}
        assert "linear" in names and "cross_entropy" in names and "nll_loss" not in names
        steps = [k for k in prof.memory_by_step() if k.startswith("t=")]
        assert steps == [f"t={t}" for t in range(5)]
        assert ("lstm sweep" in names) == fused
        assert ("Note: lstm sweep: one tape entry for a fused sweep" in prof.table()) == fused


def _lstm_profile(fused: bool, T: int = 3, B: int = 2, I: int = 3, H: int = 4, **config):
    from tinygrad_rnn.models import LSTM
    tg.manual_seed(0)
    layer = LSTM(I, H, fused=fused, dtype="float64", **config)
    x = tg.randn(T, B, I, dtype="float64")
    with tg.profile() as prof:
        out, _ = layer(x)
        out.sum().backward()
    return prof


def test_a_fused_sweep_splits_its_saved_arrays_by_step():
    """The fused LSTM keeps, per step, its gate activations [i f g o] (B, 4H) and the (h, c)
    slot it writes (2, B, H); step 0 also the initial state's slot. The sweep's row has those
    arrays plus its inputs (x, the weights, h_0, c_0), each once."""
    T, B, I, H, f64 = 3, 2, 3, 4, 8
    prof = _lstm_profile(True, T, B, I, H)
    memory = prof.memory_by_step()
    each = (B * 4 * H + 2 * B * H) * f64
    assert [memory[f"t={t}"] for t in range(T)] == [each + 2 * B * H * f64] + [each] * (T - 1)
    inputs = (T * B * I + 4 * H * I + 4 * H * H + 2 * B * H + 2 * 4 * H) * f64
    sweep = {r.key: r for r in prof.key_averages()}["lstm sweep"]
    assert sweep.calls == 1 and sweep.saved_bytes == inputs + sum(memory[f"t={t}"] for t in range(T))
    steps = {r.key: r for r in prof.key_averages(group_by="scope")}
    assert steps["t=1"].calls == 0 and steps["t=1"].forward_time == 0.0    # time is not split
    assert (sum(r.saved_bytes for r in prof.key_averages("scope"))
            == sum(r.saved_bytes for r in prof.key_averages("name")))


def test_a_fused_sweep_names_its_steps_as_the_composed_layer_does():
    """Two layers, both directions: the per-step keys are the composed loop's tg.scope names,
    t=2/l1_reverse included, in the order the steps ran."""
    fused = _lstm_profile(True, num_layers=2, bidirectional=True).memory_by_step()
    composed = _lstm_profile(False, num_layers=2, bidirectional=True).memory_by_step()
    per_step = [k for k in composed if k.startswith("t=")]
    assert [k for k in fused if k.startswith("t=")] == per_step
    assert per_step[3:6] == ["t=2/l0_reverse", "t=1/l0_reverse", "t=0/l0_reverse"]


def test_the_timed_op_path_is_in_place_only_while_a_profile_runs():
    """No profile open: Function.apply is the plain one (the profiler costs nothing per op);
    inside one it is the timed one, and it is put back even when the block raises."""
    from tinygrad_rnn.function import Function
    from tinygrad_rnn.profiler import _plain_apply, _profiled_apply
    assert Function.apply is _plain_apply
    with pytest.raises(ZeroDivisionError):
        with tg.profile():
            assert Function.apply is _profiled_apply
            1 / 0
    assert Function.apply is _plain_apply and STATE.profiler is None


class _Slow(tg.Function):
    """Doubles its input; its forward sleeps, so its time is seen from outside."""
    name = "slow"

    def forward(self, x):
        time.sleep(0.1)
        return 2 * x

    def backward(self, gy, y):
        return (gy * 2,)

    def jvp(self, tangents, y):
        return tangents[0] * 2


class _CallsSlowInItsTangent(tg.Function):
    """y = x; its JVP runs the slow op (as forward mode's tangent ops run inside an op)."""
    name = "calls_slow"

    def forward(self, x):
        return x.copy()

    def backward(self, gy, y):
        return (gy,)

    def jvp(self, tangents, y):
        return _Slow().apply(tangents[0]) * 0.5


def test_an_op_run_inside_another_counts_as_its_own_time_not_the_outer_ops():
    x = tg.tensor(np.ones(3), dtype="float64")
    with tg.profile() as prof:
        with tg.forward_ad.dual_level():
            dual = tg.forward_ad.make_dual(x, tg.ones(3, dtype="float64"))
            out = _CallsSlowInItsTangent().apply(dual)
            np.testing.assert_allclose(tg.forward_ad.unpack_dual(out).tangent.numpy(), 1.0)
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["slow"].calls == 1 and rows["slow"].forward_time >= 0.1
    assert rows["calls_slow"].calls == 1 and rows["calls_slow"].forward_time < 0.05


def test_the_bench_reference_has_no_profiler_test_and_computes_the_same():
    """bench/profiler_compiled_out.py: the functions it times against the current ones lose
    every STATE.profiler test and still compute the same gradients."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / "profiler_compiled_out.py"
    spec = importlib.util.spec_from_file_location("profiler_compiled_out", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.compiled_out()
    assert {name for _, name, *_ in rows} == {"apply", "_visit", "run_backward"}
    for _, _, current, reference_function, _ in rows:
        assert reference_function is not current
        assert "profiler" not in reference_function.__code__.co_names
    plain = _run()
    with bench.reference(rows):
        again = _run()
    for a, b in zip(plain, again):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
