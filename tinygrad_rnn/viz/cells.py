"""The cell level of detail: one box per cell step instead of one per op.

Every time step's ops become one box (a ``tg.scope`` nested inside the step, e.g. a decoder
step's ``"attention"``, becomes a box of its own), titled by what it is (``LSTM cell``, ``GRU
cell``, ``attention``, from the lecture's names its tensors carry or the fused op it ran) and
listing what goes in and what comes out. Plumbing (reshape, transpose, slicing, stacking, ...)
is folded into the arrows, and the ops of a cross-entropy loss into one box. Arrows between
boxes are labelled with the names of the tensors they carry. Works on either view.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import labels as L
from .build import Drawing, Item
from .model import Graph

# reshaping and slicing only; stack and concat stay (they show which steps' outputs are used)
PLUMBING = {"reshape", "permute", "transpose", "getitem", "squeeze", "unsqueeze", "broadcast_to",
            "expand", "contiguous", "pad"}
LOSS_OPS = {"cross_entropy", "log_softmax", "nll_loss", "getitem", "neg", "mul", "sum", "div", "mean", "reshape"}
KEPT_STYLES = ("parameter", "input", "cut", "earlier", "seed")
TITLES = [({"i_t", "f_t", "o_t"}, "LSTM cell"), ({"r_t", "z_t"}, "GRU cell"),
          ({"e_ij", "a_ij"}, "attention"), ({"h_t"}, "RNN cell")]


def _block(scope: str | None) -> str:
    """The part of a scope below its time step: ``"t=2/attention"`` -> ``"attention"``."""
    if not scope or "/" not in scope:
        return ""
    return scope.split("/", 1)[1]


def _loss_tail(graph: Graph) -> set:
    """The entries of a cross-entropy at the end of the graph: from each output back through
    the loss's own ops down to its log_softmax, or its one cross_entropy entry (empty when there
    is none)."""
    tail: set = set()
    for out in graph.outputs:
        chain, stack, found = set(), [out], False
        while stack:
            t = stack.pop()
            node = t._node
            if node is None or id(t) in chain or node.name not in LOSS_OPS or node.inputs is None:
                continue
            if graph.step_name.get(id(t)) is not None:
                continue
            chain.add(id(t))
            if node.name in ("log_softmax", "cross_entropy"):
                found = True
                continue
            stack.extend(x for x in node.inputs if isinstance(x, Tensor))
        if found:
            tail |= chain
    return tail


def _title(members: list, block: str) -> str:
    names = {t.name for t in members if t.name}
    for wanted, title in TITLES:
        if wanted <= names:
            return title
    return block or "step"


def _projection(graph: Graph) -> set:
    """Entries outside the steps that only feed the steps and come before all of them (the
    layer's hoisted input projection XG = X W_ih^T + b, computed for all steps at once)."""
    consumers: dict = {}
    for t in graph.entries:
        for x in t._node.inputs or ():
            if isinstance(x, Tensor):
                consumers.setdefault(id(x), []).append(t)
    downstream: set = set()           # made from some step's output: not the projection
    for t in graph.entries:
        if graph.step_name.get(id(t)) is not None or any(
                isinstance(x, Tensor) and id(x) in downstream for x in t._node.inputs or ()):
            downstream.add(id(t))
    feeding: set = set()
    for t in reversed(graph.entries):
        if id(t) in downstream:
            continue
        readers = consumers.get(id(t))
        if (graph.step_name.get(id(t)) is None and readers and id(t) not in graph.output_ids
                and all(graph.step_name.get(id(c)) is not None or id(c) in feeding
                        for c in readers)):
            feeding.add(id(t))
    return feeding


def fold_cells(drawing: Drawing, graph: Graph) -> Drawing:
    tensors = {id(t): t for t in graph.tensors}
    tail = _loss_tail(graph)
    projection = _projection(graph)
    group_of: dict[str, str] = {}          # item id -> id of the box it is drawn in
    members: dict[str, list] = {}           # box id -> the tensors it stands for
    folded: set = set()
    first: dict[str, Item] = {}
    for item in drawing.items.values():
        t = tensors.get(item.grads[0]) if item.grads else None
        if item.style in KEPT_STYLES or t is None or t._node is None:
            group_of[item.id] = item.id
            continue
        if item.style == "sum" and item.step is None:
            group_of[item.id] = item.id
            continue
        if item.step is not None:
            box = "c_" + _safe(item.step + "/" + _block(t._node.scope))
        elif id(t) in tail:
            box = "c_loss"
        elif id(t) in projection:
            box = "c_projection"
        elif t._node.name in PLUMBING:
            folded.add(item.id)
            continue
        else:
            group_of[item.id] = item.id
            continue
        group_of[item.id] = box
        members.setdefault(box, []).append(t)
        first.setdefault(box, item)

    # arrows: through folded plumbing, between boxes, labelled with what they carry
    incoming: dict[str, list] = {}
    for source, target, attrs in drawing.edges:
        incoming.setdefault(target, []).append((source, attrs))

    def origins(node: str) -> list:
        """The kept boxes feeding ``node`` through folded plumbing, with the edge's attrs."""
        found, stack, seen = [], [(node, None)], set()
        while stack:
            at, _ = stack.pop()
            for source, attrs in incoming.get(at, ()):
                if source in folded:
                    if source not in seen:
                        seen.add(source)
                        stack.append((source, attrs))
                else:
                    found.append((source, attrs))
        return found

    d = Drawing(drawing.view)
    d.clusters = drawing.clusters
    carried: dict[tuple, list] = {}
    styles: dict[tuple, dict | None] = {}
    for item in drawing.items.values():
        if item.id in folded:
            continue
        box = group_of[item.id]
        sources = origins(item.id)
        for source, attrs in sources:
            a = group_of[source]
            if a == box:
                continue
            key = (a, box)
            name = _carried_name(drawing.items[source], tensors, d.view)
            if drawing.items[source].style in KEPT_STYLES:
                name = ""                           # a parameter's box says what it is
            names = carried.setdefault(key, [])
            if name and name not in names:
                names.append(name)
            if attrs is not None and ("color" in attrs or key not in styles):
                styles[key] = attrs             # the recurrent style wins
            styles.setdefault(key, attrs)
        if box == item.id:
            d.add(Item(item.id, item.step, item.pos, item.lines, item.style, item.grads))
    for box, inside in members.items():
        head = first[box]
        d.add(Item(box, head.step, ("cell", _block(inside[0]._node.scope)),
                   _cell_lines(box, inside, drawing.view, group_of, graph, head.step),
                   "block" if _title(inside, "") == "attention" else "cell",
                   tuple(id(t) for t in inside if t.name and t.name.startswith("h"))[-1:]
                   or (id(inside[-1]),)))
    for (a, b), names in carried.items():
        attrs = dict(styles.get((a, b)) or {})
        if names:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            if attrs.get("color") == L.RECURRENT_EDGE["color"] and drawing.view == "forward":
                shown = ", ".join(L.previous(n) for n in names[:4])
            attrs["label"] = shown
        if "label" in attrs:
            # xlabel: placed after the layout, so labels do not widen the gaps between ranks
            attrs["xlabel"] = attrs.pop("label")
        d.edges.append((a, b, attrs or None))
    return d


def _carried_name(item: Item, tensors: dict, view: str) -> str:
    t = tensors.get(item.grads[0]) if item.grads else None
    if t is None or not t.name:
        return ""
    return t.name if view == "forward" else f"dL/d{t.name}"


def _cell_lines(box: str, inside: list, view: str, group_of: dict, graph: Graph, step) -> list:
    block = _block(inside[0]._node.scope)
    if box == "c_projection":
        ops = ", ".join(dict.fromkeys(t._node.name for t in inside
                                      if t._node.name not in PLUMBING))
        head = f"input projection\nall steps at once ({ops})"
    elif step is None:
        title = "cross-entropy loss"
        head = f"{title} (log_softmax, pick the targets, mean)"
    else:
        title = _title(inside, block)
        head = f"{title}  {step}" + (f" ({block})" if block and block != title else "")
    if view == "backward":
        head = f"backward of the {head}"
    lines = head.split("\n")
    mine = {id(t) for t in inside}
    named_in = []
    for t in inside:
        for x in t._node.inputs or ():
            if (isinstance(x, Tensor) and id(x) not in mine and x.name
                    and not (x._node is None and x.requires_grad)):      # parameters: own boxes
                name = (x.name if graph.step_name.get(id(x)) in (step, None)
                        else L.previous(x.name))
                if name not in named_in:
                    named_in.append(name)
    inner = [t.name for t in inside if t.name]
    if named_in:
        lines.append("in: " + ", ".join(named_in[:6]))
    if inner:
        lines.append("makes: " + ", ".join(dict.fromkeys(inner)))
    lines.append(f"({len(inside)} ops)")
    return lines


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)
