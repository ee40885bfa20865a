"""The tape made visible: the Wengert list that produced a tensor, one line per op.

    >>> print(tg.tape(loss))
    %0 = input               (4,) float32
    %1 = mul(%0, 1.0001)     (4,) float32
    %2 = sum(%1)             () float32

One numbering: ``%k`` is the k-th line of this printout (leaves first, then the entries in
execution order), counted per graph from 0. The drawings (``viz.draw(..., verbose=True)``,
the backward frames) and the backward errors use the same numbers, so a message's
``tape entry %5`` is line ``%5`` of ``print(tg.tape(loss))``. A backward that frees the
graph (no ``retain_graph``) leaves only the entries it can still reach: printed afterwards,
the tape is shorter and numbered again from 0.

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
        self.positions = {id(t): k for k, t in enumerate(self.leaves + self.entries)}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def position(self, t: Tensor) -> int:
        """The number k of ``%k``: t's line in the printout."""
        return self.positions[id(t)]

    def label(self, value) -> str:
        if isinstance(value, Tensor):
            k = self.positions.get(id(value))
            return "?" if k is None else f"%{k}"
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
            name = f" -> {t.name}" if t.name else ""     # a lecture's name: i_t, h_t, ...
            rows.append((f"{self.label(t)} = {node.name}({args}){name}{scope}", t))
        width = min(max((len(text) for text, _ in rows), default=0), 60)
        return [f"{text:<{width}}   {tuple(t.shape)} {t.dtype}" for text, t in rows]

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


def entry_label(roots, t: Tensor) -> str:
    """``%k``: where ``t`` stands in ``tg.tape(roots)``, for error messages (computed only
    when one is raised)."""
    return Tape(roots).label(t)


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
