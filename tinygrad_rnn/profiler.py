"""A profiler for the tape: time and memory of every op, forward and backward.

    with tg.profile() as prof:
        loss = model(x, y)
        loss.backward()
    print(prof.table(sort_by="total_time", row_limit=10))   # as torch.profiler's table
    prof.memory_by_step()       # {"t=0": bytes saved for backward, "t=1": ..., ...}
    tg.viz.draw(loss, memory=prof)  # the same bytes on each time step's cluster of the drawing

Per op (by name, or by ``tg.scope``: one row per time step when the model tags its steps):
calls, forward time (the op's whole call: its array computation and its recording on the
tape, less the ops it runs inside, such as forward mode's tangent ops, which count on their
own), backward time (the op's VJP, including the ops it runs), bytes saved for backward (the
inputs and outputs the VJP reads, each tensor counted once, when it is first saved) and
bytes of the outputs. Ops that run inside a VJP count toward that VJP's backward time, not as
forward ops of their own.

A fused recurrent sweep (``fused=True``, one tape entry for all T steps) keeps its own arrays
for BPTT (each step's gate activations and states): its row counts them, and
``memory_by_step()`` splits them by step under the names the composed layer's steps have
(``t=0``, ``t=0/l1_reverse``, ...). Its time is not split (one call for all the steps), so
those per-step scope rows show bytes only; ``fused=False`` gives per-step times too.

When no profile is open the profiler costs nothing on the op path: ``profile`` puts its timed
``Function.apply`` in place only while it runs, and backward tests ``STATE.profiler`` once
per VJP, with the anomaly and create_graph tests it shares a branch with
(``python bench/bench_per_op.py --profiler-off-only`` measures the difference).
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

from .function import Function
from .state import STATE
from .tensor import Tensor

clock = time.perf_counter


@dataclass
class ProfileRow:
    key: str                  # the op's name, or the scope
    calls: int = 0
    forward_time: float = 0.0     # seconds
    backward_calls: int = 0
    backward_time: float = 0.0
    saved_bytes: int = 0
    output_bytes: int = 0

    @property
    def total_time(self) -> float:
        return self.forward_time + self.backward_time


_SORT_KEYS = {"calls", "forward_time", "backward_time", "total_time", "saved_bytes",
              "output_bytes", "key"}
_TORCH_NAMES = {"cpu_time_total": "total_time", "self_cpu_time_total": "total_time",
                "count": "calls", "cpu_memory_usage": "saved_bytes",
                "self_cpu_memory_usage": "saved_bytes"}


class profile:
    """``with tg.profile() as prof:`` records every op run inside (one profile at a time)."""

    def __init__(self):
        self.by_name: dict = {}
        self.by_scope: dict = {}
        self.in_backward = 0
        self._saved: dict = {}         # id(tensor) -> weakref: tensors already counted as saved
        self._inner: list = []         # per open op call: seconds spent in ops it ran inside
        self.split_sweeps: dict = {}   # name of a fused sweep -> times its bytes were split by step

    def __enter__(self) -> "profile":
        if STATE.profiler is not None:
            raise RuntimeError("tg.profile: a profile is already running")
        STATE.profiler = self
        Function.apply = _profiled_apply
        return self

    def __exit__(self, *exc) -> bool:
        Function.apply = _plain_apply
        STATE.profiler = None
        self._saved.clear()
        return False

    # ------------------------------------------------------------ recording
    def _rows(self, function) -> tuple:
        name, scope = function.name, function_scope(function)
        row = self.by_name.get(name)
        if row is None:
            row = self.by_name[name] = ProfileRow(name)
        step = self.by_scope.get(scope)
        if step is None:
            step = self.by_scope[scope] = ProfileRow(scope)
        return row, step

    def forward(self, function, inputs, out: Tensor, seconds: float, recorded: bool) -> None:
        if self.in_backward:
            return
        split = getattr(function, "saved_by_step", None) if recorded else None
        steps = split() if split is not None else ()
        saved = self._saved_bytes(function, inputs, out, count_output=split is None) if recorded else 0
        name_row, scope_row = self._rows(function)
        for row in (name_row, scope_row):
            row.calls += 1
            row.forward_time += seconds
            row.saved_bytes += saved
            row.output_bytes += out.data.nbytes
        if steps:          # a fused sweep: its own arrays, step by step (module docstring)
            self.split_sweeps[function.name] = self.split_sweeps.get(function.name, 0) + 1
            outer = getattr(function, "scope", None)
            for step, count in steps:
                key = step if outer is None else f"{outer}/{step}"
                row = self.by_scope.get(key)
                if row is None:
                    row = self.by_scope[key] = ProfileRow(key)
                row.saved_bytes += count
                name_row.saved_bytes += count

    def backward(self, function, seconds: float) -> None:
        for row in self._rows(function):
            row.backward_calls += 1
            row.backward_time += seconds

    def _saved_bytes(self, function, inputs, out: Tensor, count_output: bool = True) -> int:
        """Bytes of the tensors ``function`` saves that no earlier op saved. With
        ``count_output=False`` the output is only marked as saved: its memory is counted
        elsewhere (a sweep's output is a view of the states it keeps)."""
        kept = []
        if function.saves_inputs:
            kept.extend(v for v in inputs if isinstance(v, Tensor))
        if function.uses_output:
            if count_output:
                kept.append(out)
            else:
                self._saved[id(out)] = weakref.ref(out)
        total = 0
        for t in kept:
            ref = self._saved.get(id(t))
            if ref is not None and ref() is t:
                continue                           # already saved by an earlier op
            self._saved[id(t)] = weakref.ref(t)
            total += t.data.nbytes
        return total

    # ------------------------------------------------------------ reading
    def key_averages(self, group_by: str = "name") -> list:
        """The rows, one per op name (``group_by="name"``) or per scope (``"scope"``)."""
        if group_by not in ("name", "scope"):
            raise ValueError(f"profile: group_by must be 'name' or 'scope', got {group_by!r}")
        return list((self.by_name if group_by == "name" else self.by_scope).values())

    def memory_by_step(self) -> dict:
        """Bytes saved for backward per scope (per time step), in the order the steps ran."""
        return {row.key: row.saved_bytes for row in self.by_scope.values()}

    def table(self, sort_by: str = "total_time", row_limit: int | None = None,
              group_by: str = "name") -> str:
        """A text table like torch.profiler's ``key_averages().table()``."""
        key = _TORCH_NAMES.get(sort_by, sort_by)
        if key not in _SORT_KEYS:
            raise ValueError(f"profile.table: sort_by must be one of {sorted(_SORT_KEYS)} "
                             f"(or torch's {sorted(_TORCH_NAMES)}), got {sort_by!r}")
        rows = sorted(self.key_averages(group_by), key=lambda r: getattr(r, key),
                      reverse=key != "key")
        if row_limit is not None:
            rows = rows[:row_limit]
        total = sum(r.total_time for r in self.by_name.values()) or 1.0
        width = max([len("Name")] + [len(r.key) for r in rows])
        header = (f"{'Name' if group_by == 'name' else 'Scope':<{width}}  {'Calls':>7}  "
                  f"{'Forward':>10}  {'Backward':>10}  {'Total':>10}  {'Total %':>7}  "
                  f"{'Saved':>10}  {'Output':>10}")
        lines = [header, "-" * len(header)]
        for r in rows:
            lines.append(f"{r.key:<{width}}  {r.calls:>7}  {_ms(r.forward_time):>10}  "
                         f"{_ms(r.backward_time):>10}  {_ms(r.total_time):>10}  "
                         f"{100 * r.total_time / total:>6.1f}%  {format_bytes(r.saved_bytes):>10}  "
                         f"{format_bytes(r.output_bytes):>10}")
        lines.append("-" * len(header))
        lines.append(f"Total time {_ms(sum(r.total_time for r in self.by_name.values()))}, "
                     f"saved for backward {format_bytes(sum(r.saved_bytes for r in self.by_name.values()))}")
        if self.split_sweeps:
            lines.append(f"Note: {', '.join(sorted(self.split_sweeps))}: one tape entry for a "
                         "fused sweep's T steps; its saved bytes are split by step (memory_by_step"
                         "(), the t=... scopes), its time is not (fused=False times each step)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


_plain_apply = Function.apply


def _profiled_apply(function: Function, *inputs) -> Tensor:
    """``Function.apply`` while a profile runs: the plain call, timed and recorded."""
    profiler = STATE.profiler
    if profiler is None or profiler.in_backward:     # a VJP's ops are its backward time
        return _plain_apply(function, *inputs)
    inner = profiler._inner
    inner.append(0.0)
    start = clock()
    try:
        out = _plain_apply(function, *inputs)
    finally:
        seconds = clock() - start - inner.pop()
    profiler.forward(function, inputs, out, seconds, out._node is function)
    if inner:           # the op that runs this one counts it as time spent inside
        inner[-1] += clock() - start
    return out


def function_scope(function) -> str:
    scope = getattr(function, "scope", None)
    if scope is None:
        scope = STATE.scope
    return "(no scope)" if scope is None else scope


def _ms(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_bytes(count: int) -> str:
    """``1.17 KB``: as the table prints sizes (and the drawings' ``memory=`` labels)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count} B"
