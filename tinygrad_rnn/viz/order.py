"""The layout of the time steps: the same order inside every step, each step after the last.

Left alone, Graphviz orders the boxes of each rank by its own crossing-minimising heuristics,
and the order differs from step to step (the gates i, f, g, o of an LSTM come out as o f g i
in one step and o i g f in the next). Every step is the same ops in the same tape order, so
each box has a place in its step (``Item.pos``) and a level (the longest chain of arrows
inside the step leading to it). Boxes of one level are put on one rank, joined left to right
in the order of their places by invisible arrows: dot keeps such "flat" arrows pointing one
way, so every step shows its gates in tape order (PyTorch's i f g o, r z n). And each step
gets ranks of its own, after the step before (``one_after_another``), so that the steps stand
in line instead of sliding into each other.
"""
from __future__ import annotations

# a leaf read by op k, and the sum gathering op k's gradient, sit just before op k's box
_BEFORE, _AT, _AFTER = 0, 1, 2
# Leaves and sums take no level of their own: the first step holds h_0 and c_0 itself while
# later steps get h_{t-1} from outside, and only some steps have the sum gathering dL/dh_t
# (the last one has nothing from step t+1); counting them would shift the levels of some
# steps by one.
_LOOSE = ("leaf", "earlier", "sum")
_KIND = {"leaf": _BEFORE, "earlier": _BEFORE, "sum": _BEFORE, "op": _AT, "cell": _AT,
         "val": _AFTER}


def place(item) -> tuple:
    """Where a box sits within its step: by the tape position of the op it belongs to, then a
    leaf before the op reading it, then the op's input slot; boxes without a place go last."""
    pos = item.pos
    if not pos:
        return (float("inf"), _AFTER, ())
    op = pos[1] if len(pos) > 1 and isinstance(pos[1], int) else -1
    return (op, _KIND.get(pos[0], _AFTER), tuple(str(p) for p in pos[2:]))


def rows(inside: list, edges: list, backward: bool = False) -> list[list[str]]:
    """The ids of the boxes ``inside`` one cluster grouped by level (only groups of two or
    more), each group in the order of the boxes' places. The forward view counts levels from
    the step's inputs; the backward view from the step's far end, where its gradients leave
    towards the inputs: that end is the same in every step, while where gradients come in
    differs (the last step's dL/dh_t comes from y_t alone)."""
    placed = {item.id: item for item in inside if item.pos}
    loose = {i for i, item in placed.items() if item.pos[0] in _LOOSE}
    before: dict = {i: [] for i in placed}
    for source, target, _ in edges:
        if source in placed and target in placed:
            if backward:
                source, target = target, source
            before[target].append(source)
    level: dict = {}
    groups: dict = {}
    for item in sorted(placed.values(), key=place):
        if item.id not in loose:
            groups.setdefault(_level_of(item.id, before, loose, level), []).append(item.id)
    return [group for _, group in sorted(groups.items()) if len(group) > 1]


def _level_of(start: str, before: dict, loose: set, level: dict) -> int:
    """The longest chain of arrows inside the step ending at ``start``, not counting the arrows
    out of loose boxes. Iterative (a step of a long sequence model may hold thousands of
    boxes); an arrow closing a cycle (a rolled step's recurrent arrow into itself) is skipped."""
    if start in level:
        return level[start]
    open_ = {start}
    stack = [(start, iter(before[start]))]
    while stack:
        node, preds = stack[-1]
        for p in preds:
            if p not in level and p not in open_:
                open_.add(p)
                stack.append((p, iter(before[p])))
                break
        else:
            stack.pop()
            open_.discard(node)
            level[node] = max((level[p] + (p not in loose) for p in before[node] if p in level),
                              default=0)
    return level[start]


def statements(inside: list, edges: list, backward: bool = False, sideways: bool = False,
               indent: str = "\t\t") -> list[str]:
    """The DOT lines that keep each level of the cluster on one rank, in the boxes' order: left
    to right, or top to bottom when the ranks run ``sideways`` (rankdir LR or RL; dot flips the
    flat arrows of a cluster there, so they are written in reverse)."""
    lines = []
    for group in rows(inside, edges, backward):
        if sideways:
            group = group[::-1]
        lines.append(f"{indent}{{rank=same; {'; '.join(group)}}}\n")
        lines.append(f"{indent}{' -> '.join(group)} [style=invis]\n")
    return lines


def one_after_another(clusters: list, edges: list) -> list[str]:
    """Invisible arrows that keep each time step on ranks of its own, after the step before:
    from the boxes where a step ends to those where the next one starts. Without them dot
    starts a step's boxes that do not wait for the recurrent state (x_t's matmul, a weight's
    transpose) beside the end of the step before, and the next step slides up or sideways.
    ``clusters``: [(name, [its items])] in time order. Only steps joined by arrows one way
    (the recurrent state; its gradient in the backward view) are chained: the two directions
    of a bidirectional layer share their steps' clusters and run opposite ways. The arrows
    have weight 0: they set ranks and pull nothing."""
    home = {item.id: name for name, inside in clusters for item in inside}
    joined, ins, outs = set(), set(), set()
    drawn = {(source, target) for source, target, _ in edges}
    for source, target, _ in edges:
        a, b = home.get(source), home.get(target)
        if a is None or b is None:
            continue
        if a == b:
            outs.add(source)
            ins.add(target)
        else:
            joined.add((a, b))
    lines = []
    for (name, inside), (after, later) in zip(clusters, clusters[1:]):
        if ((name, after) in joined) == ((after, name) in joined):
            continue                         # not joined, or joined both ways
        if (after, name) in joined:          # the backward view: gradients flow to step t-1
            inside, later = later, inside
        ends = [item.id for item in inside if item.id not in outs]
        starts = [item.id for item in later if item.id not in ins]
        lines.extend(f"\t{a} -> {b} [style=invis weight=0]\n" for a in ends for b in starts
                     if (a, b) not in drawn)
    return lines
