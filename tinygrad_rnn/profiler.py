"""A profiler for the tape: time and memory of every op, forward and backward.

    with tg.profile() as prof:
        loss = model(x, y)
        loss.backward()
    print(prof.table(sort_by="total_time", row_limit=10))   # as torch.profiler's table
    prof.memory_by_step()       # {"t=0": bytes saved for backward, "t=1": ..., ...}

Per op (by name, or by ``tg.scope``: one row per time step when the model tags its steps):
calls, forward time, backward time (the op's VJP, including the ops it runs), bytes saved
for backward (the inputs and outputs the VJP reads, each tensor counted once, when it is
first saved) and bytes of the outputs. Ops that run inside a VJP count toward that VJP's
backward time, not as forward ops of their own.

When no profile is open the cost is one attribute test per op (``STATE.profiler``).
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

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

    def __enter__(self) -> "profile":
        if STATE.profiler is not None:
            raise RuntimeError("tg.profile: a profile is already running")
        STATE.profiler = self
        return self

    def __exit__(self, *exc) -> bool:
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
        saved = self._saved_bytes(function, inputs, out) if recorded else 0
        for row in self._rows(function):
            row.calls += 1
            row.forward_time += seconds
            row.saved_bytes += saved
            row.output_bytes += out.data.nbytes

    def backward(self, function, seconds: float) -> None:
        for row in self._rows(function):
            row.backward_calls += 1
            row.backward_time += seconds

    def _saved_bytes(self, function, inputs, out: Tensor) -> int:
        kept = []
        if function.saves_inputs:
            kept.extend(v for v in inputs if isinstance(v, Tensor))
        if function.uses_output:
            kept.append(out)
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
                         f"{100 * r.total_time / total:>6.1f}%  {_size(r.saved_bytes):>10}  "
                         f"{_size(r.output_bytes):>10}")
        lines.append("-" * len(header))
        lines.append(f"Total time {_ms(sum(r.total_time for r in self.by_name.values()))}, "
                     f"saved for backward {_size(sum(r.saved_bytes for r in self.by_name.values()))}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


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


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count} B"
