"""From the graph to a drawing: the boxes and arrows of the forward or the backward view.

A drawing is plain data (items and edges), not yet DOT: rolling, the cell level of detail and
the per-frame overlays of the step-through rewrite it cheaply before ``emit`` turns it into a
``graphviz.Digraph``.

Forward view: one box per tape entry, the op and the tensor it makes (``h_t = tanh``; every op
has a single output), plus one box per leaf; ``split_ops=True`` draws the op and its output
apart. Backward view: one box per VJP; where a tensor's gradient gathers several contributions
(h_t: from y_t and from step t+1) an explicit sum node adds them; parameters get an
accumulation box, ``dL/dW = sum_t ...`` when several steps read them.

Arrows from one time step into another carry the recurrent state (drawn blue and labelled
``h_{t-1}``); arrows of an LSTM's cell state c_t are drawn bold (the "highway").
"""
from __future__ import annotations

import re

from ..tensor import Tensor
from . import labels as L
from .model import Graph


_CELL_STATE = re.compile(r"^c_(t|\d+)$")


class Item:
    """One box: its DOT id, its time step (cluster) and place in it, label lines, style, and the
    tensors whose gradients colour it."""
    __slots__ = ("id", "step", "pos", "lines", "style", "grads")

    def __init__(self, id, step, pos, lines, style, grads=()):
        self.id, self.step, self.pos, self.lines, self.style, self.grads = \
            id, step, pos, lines, style, grads


class Drawing:
    def __init__(self, view: str):
        self.view = view
        self.items: dict[str, Item] = {}
        self.edges: list[tuple] = []          # (source id, target id, attrs or None)
        self.clusters: list[tuple] = []       # (cluster name, [step names it shows], label)

    def add(self, item: Item) -> None:
        self.items[item.id] = item


class Options:
    """What the labels show (see ``viz.draw``); ``grads``: id(tensor) -> gradient, for
    ``show_values``' ``data | grad``."""

    def __init__(self, show_shapes=True, show_values=False, verbose=False, show_dtype=False,
                 split_ops=False, grads=None):
        self.show_shapes, self.show_values, self.verbose = show_shapes, show_values, verbose
        self.show_dtype, self.split_ops = show_dtype, split_ops
        self.grads = grads or {}

    def shape(self, t: Tensor) -> str:
        if not self.show_shapes:
            return ""
        return L.shape_text(t) if self.show_dtype else L.shape_only(t)

    def values(self, t: Tensor) -> list[str]:
        if not self.show_values:
            return []
        return L.values_text(t, self.grads.get(id(t)))


def count(graph: Graph, view: str, split_ops: bool = False) -> int:
    """How many boxes the unrolled view of ``graph`` draws (checked before building it); sum
    nodes of the backward view are not counted (at most one per tensor)."""
    cuts = len(graph.cuts)
    if view == "forward":
        origins = sum(1 for info in graph.cuts.values()
                      if info[0] is not None and id(info[0]) in graph.index)
        return (2 if split_ops else 1) * len(graph.entries) + len(graph.leaves) + cuts - origins
    wanted = sum(1 for x in graph.leaves if x.requires_grad)
    seeds = sum(1 for t in graph.outputs if t.requires_grad)
    return len(graph.entries) + wanted + 2 * cuts + seeds


def build(graph: Graph, view: str, options: Options) -> Drawing:
    drawing = (_forward if view == "forward" else _backward)(graph, options)
    drawing.clusters = [(step.name, [step.name], step.name) for step in graph.steps]
    return drawing


def _across(graph: Graph, x: Tensor, reader_step) -> bool:
    """True when ``x`` comes from another time step than the op reading it (recurrent state)."""
    source = graph.step_name.get(id(x))
    return source is not None and reader_step is not None and source != reader_step


def _is_cell_state(t: Tensor) -> bool:
    """An LSTM's cell state: c_t, c_0, c_1, ... (not attention's context c_i)."""
    return bool(t.name) and _CELL_STATE.match(t.name) is not None


def _highway(x: Tensor, out: Tensor) -> bool:
    """The edge x -> op making ``out`` lies on the LSTM's cell-state path c_{t-1} -> c_t."""
    if _is_cell_state(x):
        return True
    if not _is_cell_state(out) or x._node is None or x._node.inputs is None:
        return False
    return any(isinstance(y, Tensor) and _is_cell_state(y) for y in x._node.inputs)


def _forward(graph: Graph, o: Options) -> Drawing:
    d = Drawing("forward")
    index, step_name, position = graph.index, graph.step_name, graph.position
    for x in graph.leaves:
        i = index[id(x)]
        kind = graph.kind(x)
        key = id(x)
        d.add(Item(f"t{i}", step_name.get(key), position.get(key),
                   L.tensor_lines(x, kind, o.shape(x), o.values(x)), kind, (key,)))
        if kind == "cut":
            _cut_origin(d, graph, x, i)
    edges = d.edges
    for t in graph.entries:
        node = t._node
        key = id(t)
        i = index[key]
        step = step_name[key]
        pos = position.get(key)
        kind = "output" if key in graph.output_ids else "intermediate"
        op = L.op_lines(node, o.verbose, i)
        freed = node.inputs is None
        if o.split_ops:
            d.add(Item(f"o{i}", step, pos, op, "freed" if freed else "op"))
            d.add(Item(f"t{i}", step, ("val", pos[1]) if pos else None,
                       L.tensor_lines(t, kind, o.shape(t), o.values(t)), kind, (key,)))
            edges.append((f"o{i}", f"t{i}", None))
            target = f"o{i}"
        else:
            lines = L.merged_lines(t, op, kind, o.shape(t), o.values(t))
            style = "freed" if freed else ("output" if kind == "output" else
                                           "named" if t.name else "opbox")
            d.add(Item(f"t{i}", step, pos, lines, style, (key,)))
            target = f"t{i}"
        if node.inputs is not None:
            for x in node.inputs:
                if isinstance(x, Tensor):
                    edges.append((f"t{index[id(x)]}", target, _forward_edge(graph, x, t, step)))
    return d




def _forward_edge(graph: Graph, x: Tensor, out: Tensor, step):
    if _across(graph, x, step):
        return dict(L.RECURRENT_EDGE, label=L.previous(x.name),
                    **(L.HIGHWAY if _is_cell_state(x) else {}))
    if _highway(x, out):
        return L.HIGHWAY
    return None if x.requires_grad else L.NO_GRAD_EDGE


def _cut_origin(d: Drawing, graph: Graph, x: Tensor, i: int) -> None:
    """The dashed edge into a truncated-BPTT cut: from its origin when drawn, else from a marker."""
    origin, about = graph.cuts[id(x)]
    if d.view == "forward" and origin is not None and id(origin) in graph.index:
        d.edges.append((f"t{graph.index[id(origin)]}", f"t{i}", dict(L.CUT_EDGE, label="detach()")))
        return
    text = ["earlier steps: history cut here", "(truncated BPTT)"]
    if about:
        text.insert(1, f"detached from {about}")
    step = graph.step_name.get(id(x))
    pos = graph.position.get(id(x))
    d.add(Item(f"e{i}", step, ("earlier",) + pos[1:] if pos else None, text, "earlier"))
    if d.view == "forward":
        d.edges.append((f"e{i}", f"t{i}", dict(L.CUT_EDGE, label="no gradient")))
    else:
        d.edges.append((f"t{i}", f"e{i}", dict(L.CUT_EDGE, label="gradient stops")))


def _contributions(graph: Graph) -> dict:
    """id(x) -> how many gradient terms backward adds into x (one per use of x by an op)."""
    uses: dict = {}
    for t in graph.entries:
        for x in t._node.inputs or ():
            if isinstance(x, Tensor) and x.requires_grad:
                uses[id(x)] = uses.get(id(x), 0) + 1
    return uses


def _backward(graph: Graph, o: Options) -> Drawing:
    d = Drawing("backward")
    index, step_name, position = graph.index, graph.step_name, graph.position
    for t in graph.outputs:
        if t.requires_grad:
            i = index[id(t)]
            seed = "dL/dL = 1" if t.data.size == 1 else "gy = ones (sum of the output)"
            d.add(Item(f"s{i}", None, None, ["start of backward", seed, o.shape(t)], "seed", ()))
            d.edges.append((f"s{i}", f"{'o' if t._node is not None else 't'}{i}", None))
    readers = _steps_reading(graph)
    for x in graph.leaves:
        key = id(x)
        kind = graph.kind(x)
        i = index[key]
        if kind == "parameter":
            lines = L.accumulate_lines(x, sorted(readers.get(key, ())), o.shape(x))
            if o.show_values:
                grad = o.grads.get(key)
                lines.append("grad " + L.values_text_of(grad.detach().numpy()) if grad is not None
                             else "grad: none yet")
            d.add(Item(f"t{i}", step_name.get(key), position.get(key), lines, kind, (key,)))
        elif kind == "cut":
            lines = [x.name or "", "cut: detached (truncated BPTT)", "no gradient flows past here"]
            d.add(Item(f"t{i}", step_name.get(key), position.get(key), lines, kind, ()))
            _cut_origin(d, graph, x, i)
    edges = d.edges
    cut_edge = dict(L.CUT_EDGE, label="stops")
    kind_of = graph.kind
    uses = _contributions(graph)
    summed = set()
    for t in graph.entries:
        node = t._node
        key = id(t)
        i = index[key]
        step = step_name[key]
        d.add(Item(f"o{i}", step, position.get(key),
                   L.vjp_lines(node, t, kind_of, o.show_shapes, o.verbose, i),
                   "freed" if node.inputs is None else "vjp", (key,)))
        if node.inputs is None:
            continue
        for role, x in zip(L.roles(node), node.inputs):
            if not isinstance(x, Tensor):
                continue
            j = index[id(x)]
            if x.requires_grad:
                target = f"o{j}" if x._node is not None else f"t{j}"
                text = L.gradient_label(x, role, o.show_shapes)
                if x._node is not None and uses.get(id(x), 0) > 1:
                    if j not in summed:
                        summed.add(j)
                        _sum_node(d, graph, x, j, uses[id(x)], o)
                    target, text = f"g{j}", f"g{role}"
                attrs = {"label": text}
                if _across(graph, x, step):
                    attrs = dict(L.RECURRENT_EDGE, label=L.gradient_label(x, role, False))
                if _is_cell_state(x):
                    attrs.update(L.HIGHWAY)
                edges.append((f"o{i}", target, attrs))
            elif id(x) in graph.cuts:
                edges.append((f"o{i}", f"t{j}", cut_edge))
    return d


def _sum_node(d: Drawing, graph: Graph, x: Tensor, j: int, terms: int, o: Options) -> None:
    """The explicit sum where x's gradient gathers its ``terms`` contributions (e.g. dL/dh_t
    from y_t and from step t+1), and the edge from it to x's own VJP."""
    key = id(x)
    pos = graph.position.get(key)
    name = x.name or f"({x._node.name} out)"
    d.add(Item(f"g{j}", graph.step_name.get(key), ("sum",) + pos[1:] if pos else None,
               [f"dL/d{name} = sum of {terms}"], "sum", (key,)))
    attrs = {"label": L.gradient_label(x, None, o.show_shapes)}
    if _is_cell_state(x):
        attrs.update(L.HIGHWAY)
    d.edges.append((f"g{j}", f"o{j}", attrs))


def _steps_reading(graph: Graph) -> dict:
    """id(leaf) -> the time steps whose ops read it."""
    found: dict = {}
    for t in graph.entries:
        step = graph.step_name.get(id(t))
        for x in t._node.inputs or ():
            if isinstance(x, Tensor) and x._node is None and step is not None:
                found.setdefault(id(x), set()).add(step)
    return found
