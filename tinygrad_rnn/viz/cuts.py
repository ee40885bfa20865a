"""Truncated-BPTT cuts: remembering which leaves were cut off from a history.

``h.detach()`` makes a brand-new leaf; nothing on it says that it used to have a
history, and the drawing cannot find out afterwards. So the cut is recorded here,
when it is made::

    h = tg.viz.cut(h)          # = h.detach(), remembered as a cut
    # or, for a tensor already detached:
    tg.viz.mark_cut(h_detached, origin=h)

The record lives in this module (keyed by the tensor's identity, dropped when the
tensor is garbage collected); Tensor itself is not changed. Drawings show a cut
leaf with a dashed red border and a dashed edge from where its history was cut
(the original tensor when it is still in the drawing, else an "earlier steps" marker).
"""
from __future__ import annotations

import weakref

from ..tensor import Tensor

# id(cut leaf) -> (weakref to the leaf, weakref to its origin or None, text about the origin)
_CUTS: dict[int, tuple] = {}


def _forget(key: int):
    def callback(_ref):
        _CUTS.pop(key, None)
    return callback


def mark_cut(tensor: Tensor, origin: Tensor | None = None) -> Tensor:
    """Record that ``tensor`` is where a history was cut (truncated BPTT); returns ``tensor``.

    ``origin`` is the tensor it was detached from, if known: it is named in the drawing and,
    when it is part of the same drawing, joined to the cut by a dashed edge.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"mark_cut: expected a Tensor, got {type(tensor).__name__}")
    if tensor._node is not None:
        raise ValueError("mark_cut: only a leaf (a tensor with no history, e.g. from .detach()) "
                         "can mark a truncated-BPTT cut; use tg.viz.cut(t) to detach and mark")
    about = None
    origin_ref = None
    if origin is not None:
        origin_ref = weakref.ref(origin)
        scope = origin._node.scope if origin._node is not None else None
        about = origin.name or (f"{origin._node.name} output" if origin._node is not None else None)
        if scope:
            about = f"{about} [{scope}]" if about else f"[{scope}]"
    key = id(tensor)
    _CUTS[key] = (weakref.ref(tensor, _forget(key)), origin_ref, about)
    return tensor


def cut(tensor: Tensor) -> Tensor:
    """``tensor.detach()``, remembered as a truncated-BPTT cut so that drawings show it."""
    leaf = tensor.detach()
    if tensor.name:
        leaf.name = tensor.name
    return mark_cut(leaf, origin=tensor)


def cut_info(tensor: Tensor):
    """``(origin tensor or None, text about the origin or None)`` if ``tensor`` is a recorded
    cut, else None."""
    entry = _CUTS.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    origin = entry[1]() if entry[1] is not None else None
    return origin, entry[2]


def is_cut(tensor: Tensor) -> bool:
    """True when ``tensor`` was recorded by :func:`cut` or :func:`mark_cut`."""
    return cut_info(tensor) is not None
