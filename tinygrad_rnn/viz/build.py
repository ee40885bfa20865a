"""From the graph to a drawing: the boxes and arrows of the forward or the backward view.

A drawing is plain data (items and edges), not yet DOT: rolling and the per-frame overlays of
the step-through rewrite it cheaply before ``emit`` turns it into a ``graphviz.Digraph``.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import labels as L
from .model import Graph


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


def count(graph: Graph, view: str) -> int:
    """How many boxes the unrolled view of ``graph`` draws (checked before building it)."""
    cuts = len(graph.cuts)
    if view == "forward":
        origins = sum(1 for info in graph.cuts.values()
                      if info[0] is not None and id(info[0]) in graph.index)
        return 2 * len(graph.entries) + len(graph.leaves) + cuts - origins
    wanted = sum(1 for x in graph.leaves if x.requires_grad)
    seeds = sum(1 for t in graph.outputs if t.requires_grad)
    return len(graph.entries) + wanted + 2 * cuts + seeds


def build(graph: Graph, view: str, show_shapes: bool, show_values: bool, verbose: bool) -> Drawing:
    drawing = (_forward if view == "forward" else _backward)(graph, show_shapes, show_values, verbose)
    drawing.clusters = [(step.name, [step.name], step.name) for step in graph.steps]
    return drawing


def _forward(graph: Graph, show_shapes, show_values, verbose) -> Drawing:
    d = Drawing("forward")
    index, step_name, position = graph.index, graph.step_name, graph.position
    for x in graph.leaves:
        i = index[id(x)]
        kind = graph.kind(x)
        key = id(x)
        d.add(Item(f"t{i}", step_name.get(key), position.get(key),
                   L.tensor_lines(x, kind, show_shapes, show_values), kind, (key,)))
        if kind == "cut":
            _cut_origin(d, graph, x, i)
    edges = d.edges
    no_grad = L.NO_GRAD_EDGE
    for t in graph.entries:
        node = t._node
        key = id(t)
        i = index[key]
        step = step_name[key]
        pos = position.get(key)
        d.add(Item(f"o{i}", step, pos, L.op_lines(node, verbose, i), "freed" if node.inputs is None else "op"))
        kind = "output" if key in graph.output_ids else "intermediate"
        d.add(Item(f"t{i}", step, ("val", pos[1]) if pos else None,
                   L.tensor_lines(t, kind, show_shapes, show_values), kind, (key,)))
        edges.append((f"o{i}", f"t{i}", None))
        if node.inputs is not None:
            for x in node.inputs:
                if isinstance(x, Tensor):
                    edges.append((f"t{index[id(x)]}", f"o{i}", None if x.requires_grad else no_grad))
    return d


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


def _backward(graph: Graph, show_shapes, show_values, verbose) -> Drawing:
    d = Drawing("backward")
    index, step_name, position = graph.index, graph.step_name, graph.position
    for t in graph.outputs:
        if t.requires_grad:
            i = index[id(t)]
            shape = L.shape_text(t) if show_shapes else ""
            seed = "dL/dL = 1" if t.data.size == 1 else "gy = ones (sum of the output)"
            d.add(Item(f"s{i}", None, None, ["start of backward", seed, shape], "seed", ()))
            d.edges.append((f"s{i}", f"{'o' if t._node is not None else 't'}{i}", None))
    for x in graph.leaves:
        key = id(x)
        kind = graph.kind(x)
        i = index[key]
        if kind == "parameter":
            lines = [f"accumulate {x.name or 'parameter'}.grad"]
            if show_shapes:
                lines.append(L.shape_text(x))
            if show_values:
                lines.extend(L.values_text(x))
            d.add(Item(f"t{i}", step_name.get(key), position.get(key), lines, kind, (key,)))
        elif kind == "cut":
            lines = [x.name or "", "cut: detached (truncated BPTT)", "no gradient flows past here"]
            d.add(Item(f"t{i}", step_name.get(key), position.get(key), lines, kind, ()))
            _cut_origin(d, graph, x, i)
    edges = d.edges
    cut_edge = dict(L.CUT_EDGE, label="stops")
    kind_of = graph.kind
    for t in graph.entries:
        node = t._node
        key = id(t)
        i = index[key]
        d.add(Item(f"o{i}", step_name[key], position.get(key),
                   L.vjp_lines(node, t, kind_of, show_shapes, verbose, i),
                   "freed" if node.inputs is None else "vjp", (key,)))
        if node.inputs is None:
            continue
        for role, x in zip(L.roles(node), node.inputs):
            if not isinstance(x, Tensor):
                continue
            j = index[id(x)]
            if x.requires_grad:
                target = f"o{j}" if x._node is not None else f"t{j}"
                text = f"g{role} {tuple(x.shape)}" if show_shapes else f"g{role}"
                edges.append((f"o{i}", target, {"label": text}))
            elif id(x) in graph.cuts:
                edges.append((f"o{i}", f"t{j}", cut_edge))
    return d
