"""The tape made visible: the Wengert list that produced a tensor, one line per op.

    >>> print(tg.tape(loss))
    %0 = input               (4,) float32
    %1 = mul(%0, 1.0001)     (4,) float32
    %2 = sum(%1)             () float32

Also ``scope``: tag the ops recorded inside a block (e.g. one time step), so that
drawings can group them.
"""
from __future__ import annotations

from .state import STATE
from .tensor import Tensor


def graph_tensors(roots) -> list[Tensor]:
    """Every tensor reachable from ``roots`` through the tape (explicit stack, no recursion)."""
    roots = (roots,) if isinstance(roots, Tensor) else tuple(roots)
    seen, order, stack = set(), [], list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        order.append(t)
        node = t._node
        if node is not None and node.inputs is not None:
            stack.extend(x for x in node.inputs if isinstance(x, Tensor))
    return order


class Tape:
    """The entries that produced ``roots``, in execution order, plus the leaves they read."""

    def __init__(self, roots):
        tensors = graph_tensors(roots)
        self.entries = sorted((t for t in tensors if t._node is not None),
                              key=lambda t: t._node.seq)
        self.leaves = _leaves_in_order_of_use(tensors, self.entries)
        self.labels = {}
        for t in self.leaves + self.entries:
            self.labels[id(t)] = f"%{len(self.labels)}"

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def label(self, value) -> str:
        if isinstance(value, Tensor):
            return self.labels.get(id(value), "?")
        return repr(value)

    def lines(self) -> list[str]:
        rows = []
        for t in self.leaves:
            kind = "parameter" if t.requires_grad else "constant"
            name = f" {t.name}" if t.name else ""
            rows.append((f"{self.label(t)} = {kind}{name}", t))
        for t in self.entries:
            node = t._node
            if node.inputs is None:
                args = "<freed>"
            else:
                args = ", ".join(self.label(x) for x in node.inputs)
            extra = node.extra_repr()
            if extra:
                args = f"{args}, {extra}"
            scope = f"   [{node.scope}]" if node.scope else ""
            rows.append((f"{self.label(t)} = {node.name}({args}){scope}{self._derived(node)}", t))
        width = min(max((len(text) for text, _ in rows), default=0), 60)
        return [f"{text:<{width}}   {tuple(t.shape)} {t.dtype}" for text, t in rows]

    def _derived(self, node) -> str:
        """``  ; tangent of %3`` (an op of a JVP) or ``  ; backward of %3`` (an op a VJP
        recorded under create_graph=True): which entry's derivative program it belongs to."""
        derived = getattr(node, "derived_from", None)
        if derived is None:
            return ""
        kind, source = derived
        label = self._node_labels.get(id(source))
        return f"   ; {kind} of {label or f'{source.name} #{source.seq}'}"

    @property
    def _node_labels(self) -> dict:
        if not hasattr(self, "_labels_by_node"):
            self._labels_by_node = {id(t._node): self.labels[id(t)] for t in self.entries}
        return self._labels_by_node

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__


def _leaves_in_order_of_use(tensors, entries) -> list:
    """Leaves listed as the tape first reads them (a root that is itself a leaf comes last)."""
    ordered, seen = [], set()
    for t in entries:
        for x in t._node.inputs or ():
            if isinstance(x, Tensor) and x._node is None and id(x) not in seen:
                seen.add(id(x))
                ordered.append(x)
    ordered += [t for t in tensors if t._node is None and id(t) not in seen]
    return ordered


def tape(output) -> Tape:
    """The tape (Wengert list) that produced ``output``; ``print`` it to read it."""
    return Tape(output)


class scope:
    """``with tg.scope("t=3"):`` tags every op recorded inside (nested scopes join with '/')."""

    def __init__(self, name: str):
        self.name = str(name)

    def __enter__(self):
        self.previous = STATE.scope
        STATE.scope = self.name if self.previous is None else f"{self.previous}/{self.name}"
        return self

    def __exit__(self, *exc):
        STATE.scope = self.previous
        return False
