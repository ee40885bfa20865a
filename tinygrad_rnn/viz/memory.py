"""The profiler's memory on a drawing: ``viz.draw(loss, memory=prof)`` writes the bytes each
time step saved for backward (``prof.memory_by_step()``) on that step's cluster, and a fused
sweep's box lists them per step (the profiler splits a sweep's arrays by step).

A profile's scopes are finer than the clusters (``t=3/l1``, ``t=3/attention``): a cluster gets
the sum over the scopes whose first component is its name, as the drawing groups ops. Sizes
are written as the profile's table writes them (``format_bytes``).
"""
from __future__ import annotations

from collections.abc import Mapping

from ..profiler import format_bytes
from .model import step_of


def by_scope(memory) -> dict:
    """{scope: bytes} from a ``tg.profile`` or its ``memory_by_step()`` dict."""
    if hasattr(memory, "memory_by_step"):
        memory = memory.memory_by_step()
    if not isinstance(memory, Mapping):
        raise TypeError("draw: memory must be a tg.profile or its memory_by_step() dict "
                        f"({{scope: bytes}}), got {type(memory).__name__}")
    return {str(scope): int(count) for scope, count in memory.items()}


def by_cluster(scopes: dict) -> dict:
    """{cluster name: bytes}: each scope's bytes go to the cluster of its first component."""
    totals: dict = {}
    for scope, count in scopes.items():
        step = step_of(scope)
        totals[step] = totals.get(step, 0) + count
    return totals


def cluster_text(counts: list) -> list[str]:
    """``saved for backward 1.17 KB`` for one step; for a rolled run (or a sweep), every
    step's bytes in time order."""
    if not counts or all(c is None for c in counts):
        return []
    shown = ["-" if c is None else format_bytes(c) for c in counts]
    if len(shown) == 1:
        return [f"saved for backward {shown[0]}"]
    if len(shown) > 6:
        shown = shown[:3] + ["..."] + shown[-2:]
    return ["saved for backward per step " + ", ".join(shown)]


def sweep_text(node, scopes: dict) -> list[str]:
    """A fused sweep's box: the bytes the profile split to each of its steps, in time order."""
    outer = getattr(node, "scope", None)
    names = [node.step_name(t) for t in range(node.steps)]
    return cluster_text([scopes.get(name if outer is None else f"{outer}/{name}")
                         for name in names])
