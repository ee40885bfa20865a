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
OUTSIDE_COLOUR = "#f4a6d7"   # a value outside the scale's range (never clamped into it)


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

    # a fused sweep runs a whole layer's BPTT in one entry: it reports its per-step
    # ||dL/dh_t|| (the only place they exist) when handed a dict
    sweeps = [t._node for t in graph.entries if hasattr(t._node, "note_state_grads")]
    for node in sweeps:
        node.state_norms = {}
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
        for node in sweeps:
            graph.sweep_states.update(
                (node.step_name(t), list(zip(node.state_names, node.state_norms[t])))
                for t in sorted(node.state_norms))
            node.state_norms = None
    return grads


def norms_of(grads: dict) -> dict:
    """id(t) -> ||g|| for every gradient. (A fused sweep's per-step state norms come from the
    sweep itself: ``Graph.sweep_states``.)"""
    return {key: norm(g.data) for key, g in grads.items()}


def gradient_arrays(graph: Graph, mode) -> dict:
    """id(t) -> gradient Tensor (see ``gradient_norms``)."""
    if mode == "compute":
        return trace_backward(graph)
    found = {id(t): t.grad for t in graph.tensors if t.grad is not None}
    if not found:
        return {}
    grads = trace_backward(graph) if graph.intact else {}
    grads.update(found)
    return grads


def gradient_norms(graph: Graph, mode) -> dict:
    """id(t) -> ||gradient|| for the overlay.

    ``mode=True``: what backward left: ``.grad`` of leaves and of ``retain_grad`` tensors, and,
    when the graph is intact (``backward(retain_graph=True)``), every other tensor's
    d(output)/d(t) recomputed privately. Empty before any backward.
    ``mode="compute"``: everything recomputed now, ``.grad`` ignored (no backward needed).
    """
    return norms_of(gradient_arrays(graph, mode))


def seed_norm(graph: Graph) -> float:
    """||the gradient backward starts from||: 1 for a scalar loss (dL/dL), sqrt(n) for ones."""
    sizes = [t.data.size for t in graph.outputs if t.requires_grad]
    return math.sqrt(max(sizes)) if sizes else 1.0


def state_parts(step) -> list[tuple[str, object]]:
    """(name, key into the norms) of each part of a step's recurrent state: h_t first."""
    parts = []
    main = step.state()
    for t in sorted(step.states(), key=lambda t: t is not main):
        parts.append((t.name or ("h_t" if t is main else "state"), id(t)))
    return parts


def step_norms(graph: Graph, norms: dict, state: str = "last") -> dict:
    """step name -> ||dL/dh_t||, h_t being the step's state (see ``grad_norms_by_step``)."""
    if state not in ("last", "all"):
        raise ValueError(f"state must be 'last' or 'all', not {state!r}")
    result = {}
    parts = [[norms.get(key) for _, key in state_parts(step)] for step in graph.steps]
    named = [step.name for step in graph.steps] + list(graph.sweep_states)
    parts += [[value for _, value in states] for states in graph.sweep_states.values()]
    for name, values in zip(named, parts):
        if state == "last":
            result[name] = values[0] if values else None
        else:
            known = [v for v in values if v is not None]
            result[name] = math.sqrt(sum(v * v for v in known)) if known else None
    return result


def step_state_norms(graph: Graph, norms: dict) -> dict:
    """step name -> [(state name, ||dL/dstate||)], h_t first (c_t next for an LSTM)."""
    return {**{step.name: [(name, norms.get(key)) for name, key in state_parts(step)]
               for step in graph.steps}, **graph.sweep_states}


_STEP_NUMBER = re.compile(r"^(?:[^=]*=)?\s*(-?\d+)$")


def grad_norms_by_step(output, state: str = "last") -> dict:
    """``{step: ||dL/dh_t||}`` for the time steps (``tg.scope``) of the graph behind ``output``.

    h_t is the step's recurrent state: what the step hands to the next step (for the last step,
    the tensor in the same place). With several (an LSTM's h_t and c_t), ``state="last"`` gives
    the one named ``h...`` (else the last one made), ``state="all"`` the root of their summed
    squares. A fused sweep reports its steps itself (an LSTM's c_t part: from t+1). The gradients are
    those of a private backward from ``output`` (ones for a non-scalar output); user ``.grad``
    values and the graph are left unchanged, so call it before backward or after
    ``backward(retain_graph=True)``. Keys are the step numbers (ints) when every scope reads like
    ``"t=3"`` or ``"3"``, else the scope names; they come in time order, so
    ``plt.semilogy(list(norms.keys()), list(norms.values()))`` plots the vanishing-gradient curve.
    """
    graph = Graph(output)
    norms = norms_of(trace_backward(graph))
    by_name = step_norms(graph, norms, state)
    numbers = [_STEP_NUMBER.match(name) for name in by_name]
    if by_name and all(numbers) and len({int(m.group(1)) for m in numbers}) == len(numbers):
        return {int(m.group(1)): value for m, value in zip(numbers, by_name.values())}
    return by_name


class Scale:
    """Colours for gradient norms with a fixed meaning: decades of ||g|| relative to the
    gradient the backward starts from (dL/dL = 1 for a scalar loss; ``reference``). One colour
    per decade, wider bins (a whole number of decades) past 8 decades; the range covers every
    value given, the reference and at least 3 decades, so nothing is clamped; a value given
    later that falls outside gets its own colour and legend row. Zero grey, NaN/Inf red."""

    MIN_DECADES = 3

    def __init__(self, values, reference: float = 1.0):
        self.reference = reference if reference and reference > 0 else 1.0
        logs = [math.log10(v / self.reference) for v in values
                if v is not None and not math.isnan(v) and not math.isinf(v) and v > 0]
        self.empty = not logs
        high = max(math.ceil(max(logs)) if logs else 0, 0)
        low = min(math.floor(min(logs)) if logs else high, high - self.MIN_DECADES)
        self.width = max(1, math.ceil((high - low) / len(PALETTE)))
        self.bins = math.ceil((high - low) / self.width)
        self.low, self.high = low, low + self.bins * self.width
        self.outside = False

    def _palette(self, i: int) -> str:
        return PALETTE[round(i * (len(PALETTE) - 1) / max(self.bins - 1, 1))]

    def colour(self, value):
        """(fill colour, font colour) for a norm, or None when there is no gradient."""
        if value is None:
            return None
        if math.isnan(value) or math.isinf(value):
            return BAD_COLOUR, "white"
        if value == 0:
            return ZERO_COLOUR, "black"
        decades = math.log10(value / self.reference)
        if not self.low <= decades <= self.high:
            self.outside = True
            return OUTSIDE_COLOUR, "black"
        i = min(int((decades - self.low) / self.width), self.bins - 1)
        fill = self._palette(i)
        return fill, ("white" if fill in DARK else "black")

    def title(self) -> str:
        ref = "dL/dL = 1" if self.reference == 1.0 else f"the seed's norm {self.reference:.3g}"
        per = "decade" if self.width == 1 else f"{self.width} decades"
        return f"colour: ||gradient|| relative to {ref},\none colour per {per} (log10)"

    def legend(self) -> list[tuple[str, str, str]]:
        """(text, fill, font colour) for each colour in use, small norms first."""
        rows = []
        for i in range(self.bins):
            a = self.low + i * self.width
            fill = self._palette(i)
            rows.append((f"1e{a} .. 1e{a + self.width}", fill, "white" if fill in DARK else "black"))
        if self.outside:
            rows.append(("outside the scale", OUTSIDE_COLOUR, "black"))
        rows.append(("zero", ZERO_COLOUR, "black"))
        rows.append(("NaN / Inf", BAD_COLOUR, "white"))
        rows.append(("no gradient", "#ffffff", "black"))
        return rows
