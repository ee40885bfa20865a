"""The recording switches shared by the tape and the backward engine.

One module-level object, read on every op, so that checking "should this op be
recorded?" costs one attribute lookup. The switches are slots set in ``__init__``, not
class attributes: Python 3.11 reads a slot in about a third of the time it takes to find a
class attribute through an instance, and every op reads several of them.
"""
from __future__ import annotations


class RecordingState:
    __slots__ = ("grad_enabled", "anomaly", "scope", "inplace_edits", "forward_ad", "profiler",
                 "deriving", "overwrite_saved")

    def __init__(self) -> None:
        self.grad_enabled: bool = True   # tg.no_grad() turns this off
        self.anomaly: bool = False       # tg.detect_anomaly() turns this on
        self.scope: str | None = None    # tg.scope("t=3") tags nodes recorded inside it
        self.inplace_edits: int = 0      # in-place edits so far; backward re-checks versions only if it moved
        self.forward_ad = None           # the open tg.forward_ad.dual_level (tangents are pushed while set)
        self.profiler = None             # the running tg.profile() (ops are timed while set)
        self.deriving = None             # ("tangent" | "backward", entry) while a JVP / recorded VJP runs
        # True while a backward runs that frees the graph after it (no retain_graph, no
        # create_graph): a VJP may then write its gradients over arrays it saved, which nothing
        # reads again (the big VJPs do, as a hand-written backward reuses its buffers)
        self.overwrite_saved: bool = False


STATE = RecordingState()
