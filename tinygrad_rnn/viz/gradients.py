"""Gradients for the drawings: a private backward pass, gradient norms and their colour scale.

The private pass runs the engine with ``retain_graph=True`` and ``accumulate=False`` and
collects every tape entry's gradient through the engine's ``observer`` hook. It leaves the
user's ``.grad`` values, ``retain_grad`` flags and graph exactly as they were (retain_grad
flags are lifted for the pass and put back; anomaly mode is paused so that NaN gradients are
drawn red instead of raising).
"""
from __future__ import annotations

import math
import re

from ..backends import backend_for
from ..engine import run_backward
from ..errors import BackwardError
from ..state import STATE
from ..tensor import Tensor
from .model import Graph

# Viridis in 8 steps: small gradients dark blue, large ones yellow; red is kept for NaN/Inf.
PALETTE = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725"]
DARK = set(PALETTE[:4])
BAD_COLOUR = "#e41a1c"       # NaN or Inf
ZERO_COLOUR = "#bdbdbd"      # exactly zero


def norm(array) -> float:
    """The L2 norm of an array (NumPy or CuPy), in float64; NaN/Inf propagate."""
    if array.dtype.kind == "c":
        array = abs(array)
    a = array.astype("float64")
    return math.sqrt(float((a * a).sum()))


def trace_backward(graph: Graph, on_step=None) -> dict:
    """d(outputs)/d(t) for every tensor t of ``graph`` (a dict id(t) -> Tensor), computed by a
    private backward that changes nothing the user can see. ``on_step(y, gy, grads)`` is
    forwarded from the engine's observer (one call per tape entry, in backward order)."""
    if not graph.intact:
        first = graph.freed[0]
        raise BackwardError(
            f"the graph was freed by an earlier backward ({first._node.name}, tape entry "
            f"%{graph.index[id(first)]}); "
            "call backward(retain_graph=True) to draw its gradients, or draw before backward")
    roots = [t for t in graph.outputs if t.requires_grad]
    grads: dict = {}
    if not roots:
        return grads
    seeds = [Tensor._make(backend_for(t.data).xp.ones_like(t.data)) for t in roots]
    for t, seed in zip(roots, seeds):
        if t._node is None:
            grads[id(t)] = seed

    def observer(y, gy, sent):
        grads[id(y)] = gy
        for x, gx in zip(y._node.inputs, sent):
            if gx is not None and isinstance(x, Tensor) and x._node is None and x.requires_grad:
                before = grads.get(id(x))
                grads[id(x)] = gx if before is None else before + gx
        if on_step is not None:
            on_step(y, gy, sent)

    retained = [t for t in graph.entries if t._retains_grad]
    anomaly = STATE.anomaly
    for t in retained:
        t._retains_grad = False
    STATE.anomaly = False
    try:
        run_backward(roots, seeds, retain_graph=True, accumulate=False, observer=observer)
    finally:
        STATE.anomaly = anomaly
        for t in retained:
            t._retains_grad = True
    return grads


def gradient_norms(graph: Graph, mode) -> dict:
    """id(t) -> ||gradient|| for the overlay.

    ``mode=True``: what backward left: ``.grad`` of leaves and of ``retain_grad`` tensors, and,
    when the graph is intact (``backward(retain_graph=True)``), every other tensor's
    d(output)/d(t) recomputed privately. Empty before any backward.
    ``mode="compute"``: everything recomputed now, ``.grad`` ignored (no backward needed).
    """
    if mode == "compute":
        return {k: norm(g.data) for k, g in trace_backward(graph).items()}
    found = {id(t): t.grad for t in graph.tensors if t.grad is not None}
    if not found:
        return {}
    norms = {}
    if graph.intact:
        norms = {k: norm(g.data) for k, g in trace_backward(graph).items()}
    for k, g in found.items():
        norms[k] = norm(g.data)
    return norms


def step_norms(graph: Graph, norms: dict, state: str = "last") -> dict:
    """step name -> ||dL/dh_t||, h_t being the step's state (see ``grad_norms_by_step``)."""
    if state not in ("last", "all"):
        raise ValueError(f"state must be 'last' or 'all', not {state!r}")
    result = {}
    for step in graph.steps:
        if state == "last":
            h = step.state()
            result[step.name] = norms.get(id(h)) if h is not None else None
        else:
            values = [norms[id(t)] for t in step.outputs if id(t) in norms]
            result[step.name] = math.sqrt(sum(v * v for v in values)) if values else None
    return result


_STEP_NUMBER = re.compile(r"^(?:[^=]*=)?\s*(-?\d+)$")


def grad_norms_by_step(output, state: str = "last") -> dict:
    """``{step: ||dL/dh_t||}`` for the time steps (``tg.scope``) of the graph behind ``output``.

    h_t is the step's state: the last tensor the step produces that is read outside the step
    (``state="last"``, e.g. h = o * tanh(c) in an LSTM cell), or all of them together
    (``state="all"``: the root of the summed squares, e.g. h and c). The gradients are those of
    a private backward from ``output`` (ones for a non-scalar output); user ``.grad`` values and
    the graph are left unchanged, so call it before backward or after
    ``backward(retain_graph=True)``. Keys are the step numbers (ints) when every scope reads like
    ``"t=3"`` or ``"3"``, else the scope names; they come in time order, so
    ``plt.semilogy(list(norms.keys()), list(norms.values()))`` plots the vanishing-gradient curve.
    """
    graph = Graph(output)
    norms = {k: norm(g.data) for k, g in trace_backward(graph).items()}
    by_name = step_norms(graph, norms, state)
    numbers = [_STEP_NUMBER.match(name) for name in by_name]
    if by_name and all(numbers) and len({int(m.group(1)) for m in numbers}) == len(numbers):
        return {int(m.group(1)): value for m, value in zip(numbers, by_name.values())}
    return by_name


class Scale:
    """Maps gradient norms to colours by log10: one colour per decade when the norms span at
    most 8 decades, else 8 equal bins; exactly zero grey, NaN/Inf red."""

    def __init__(self, values):
        logs = [math.log10(v) for v in values
                if v is not None and not math.isnan(v) and not math.isinf(v) and v > 0]
        self.empty = not logs
        self.low = math.floor(min(logs)) if logs else 0
        high = max(math.ceil(max(logs)) if logs else 1, self.low + 1)
        self.bins = min(high - self.low, len(PALETTE))
        self.width = (high - self.low) / self.bins
        self.high = high

    def _palette(self, i: int) -> str:
        if self.bins == 1:
            return PALETTE[len(PALETTE) // 2]
        return PALETTE[round(i * (len(PALETTE) - 1) / (self.bins - 1))]

    def colour(self, value):
        """(fill colour, font colour) for a norm, or None when there is no gradient."""
        if value is None:
            return None
        if math.isnan(value) or math.isinf(value):
            return BAD_COLOUR, "white"
        if value == 0:
            return ZERO_COLOUR, "black"
        i = int((math.log10(value) - self.low) / self.width)
        fill = self._palette(min(max(i, 0), self.bins - 1))
        return fill, ("white" if fill in DARK else "black")

    def legend(self) -> list[tuple[str, str, str]]:
        """(text, fill, font colour) for each colour in use, small norms first."""
        rows = []
        if not self.empty:
            for i in range(self.bins):
                a = self.low + i * self.width
                b = a + self.width
                fill = self._palette(i)
                rows.append((f"1e{_tidy(a)} .. 1e{_tidy(b)}", fill,
                             "white" if fill in DARK else "black"))
        rows.append(("zero", ZERO_COLOUR, "black"))
        rows.append(("NaN / Inf", BAD_COLOUR, "white"))
        rows.append(("no gradient", "#ffffff", "black"))
        return rows


def _tidy(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"
