"""The rolled view: runs of identical time steps drawn once, in one box labelled "x T".

Steps are identical when they run the same sequence of ops (a step holding a truncated-BPTT
cut starts a new run). Every box of a later step of a
run is merged into the box at the same place in the run's first step; arrows between
different steps of the run become the recurrent arrows of the rolled picture (h_{t-1} -> step
t), drawn blue. Linear in the size of the drawing.
"""
from __future__ import annotations

from . import labels as L
from .build import Drawing, Item
from .model import Graph


def groups(graph: Graph) -> list[list[str]]:
    """Consecutive steps with the same op sequence, in time order. A step that starts from a
    truncated-BPTT cut always starts a new run, so the cut stays visible."""
    cut_steps = {graph.step_name.get(key) for key in graph.cuts}
    runs: list[list[str]] = []
    last = None
    for step in graph.steps:
        if runs and step.signature == last and step.name not in cut_steps:
            runs[-1].append(step.name)
        else:
            runs.append([step.name])
            last = step.signature
    return runs


def roll(drawing: Drawing, graph: Graph) -> Drawing:
    runs = groups(graph)
    first_of = {name: run[0] for run in runs for name in run}
    rolled = Drawing(drawing.view)
    rolled.clusters = [
        (run[0], run, run[0] if len(run) == 1 else f"{run[0]} .. {run[-1]}   x {len(run)}")
        for run in runs]

    at: dict[tuple, str] = {}       # (first step of the run, place) -> id of the merged box
    rename: dict[str, str] = {}
    for item in drawing.items.values():
        first = first_of.get(item.step)
        if first is None or item.pos is None:
            rolled.add(Item(item.id, item.step, item.pos, item.lines, item.style, item.grads))
            continue
        key = (first, item.pos)
        target = at.get(key)
        if target is None:
            at[key] = item.id
            rolled.add(Item(item.id, first, item.pos, item.lines, item.style, item.grads))
        else:
            rename[item.id] = target
            merged = rolled.items[target]
            merged.grads = merged.grads + item.grads
            if item.lines != merged.lines and merged.lines[-1] != "(one per step)":
                merged.lines = merged.lines + ["(one per step)"]    # e.g. x0, x1, ... as one box

    step_of = {item.id: item.step for item in drawing.items.values()}
    label = "next step" if drawing.view == "forward" else "to the step before"
    recurrent = dict(L.RECURRENT_EDGE, label=label)
    seen = set()
    for source, target, attrs in drawing.edges:
        a, b = rename.get(source, source), rename.get(target, target)
        s, t = step_of.get(source), step_of.get(target)
        across = s != t and s is not None and t is not None and first_of.get(s) == first_of.get(t)
        key = (a, b, across)
        if key in seen:
            continue
        seen.add(key)
        rolled.edges.append((a, b, recurrent if across else attrs))
    return rolled
