"""The recording switches shared by the tape and the backward engine.

One module-level object, read on every op, so that checking "should this op be
recorded?" costs one attribute lookup.
"""
from __future__ import annotations


class RecordingState:
    grad_enabled: bool = True   # tg.no_grad() turns this off
    anomaly: bool = False       # tg.detect_anomaly() turns this on
    scope: str | None = None    # tg.scope("t=3") tags nodes recorded inside it
    inplace_edits: int = 0      # in-place edits so far; backward re-checks versions only if it moved
    forward_ad = None           # the open tg.forward_ad.dual_level (tangents are pushed while set)
    profiler = None             # the running tg.profile() (ops are timed while set)
    deriving = None             # ("tangent" | "backward", entry) while a JVP / recorded VJP runs
    # True while a backward runs that frees the graph after it (no retain_graph, no
    # create_graph): a VJP may then write its gradients over arrays it saved, which nothing
    # reads again (the big VJPs do, as a hand-written backward reuses its buffers)
    overwrite_saved: bool = False


STATE = RecordingState()
