"""Graph edges that do not keep values alive.

A tape entry keeps its inputs: they are the graph's edges, and, for an op whose VJP reads
them (``saves_inputs``), the saved values too. An op whose VJP reads no input value (add,
slicing, reshape, stack, sigmoid, which reads its output) needs only each input's shape,
dtype, device and history. Keeping the tensor itself there kept every intermediate of a
forward pass alive until backward ended: a composed LSTM step held 26 (B, H) arrays where
torch, whose edges point to grad_fns and not to tensors, holds 7.

So such an entry holds a *shadow* of each large intermediate input: a tensor of the same
shape, dtype, device, name and history (``_node``) whose data is a zero-strided view of one
zero (no memory), with a weak reference back to the original. The entry's VJP reads the
shadow itself (``Function.edges``); ``Function.inputs`` hands out
the original while anything else keeps it alive (the user, an entry that saved it), so hooks,
``retain_grad``, ``tg.grad`` and the drawings see the very tensor; once nothing else holds
it, its values are freed and the shadow stands in. Leaves, small tensors (the drawings show
their values) and the outputs of ops whose VJP reads its output are always kept.
"""
from __future__ import annotations

import weakref

from .backends import backend_for
from .tensor import Tensor

# below this many elements a tensor is kept: the drawings and the viewer show small values,
# and a shadow would cost more than it frees
SHADOW_MIN_ELEMENTS = 4096


class Shadow(Tensor):
    """A large intermediate tensor's place in the graph, without its values (``_pinned``:
    the original, held once a hook or retain_grad asks for it, as torch keeps hooks). Its
    ``data`` is a stand-in of the right shape, dtype and device for the VJPs that read only
    those; asking for its values raises."""
    __slots__ = ("_origin", "_pinned")

    def _freed(self, what: str):
        return RuntimeError(
            f"{what}: the values of this {tuple(self.shape)} tensor were not kept (it was freed "
            "once used: no backward reads it); keep a reference to the tensor to read them")

    def numpy(self):
        raise self._freed("numpy")

    def tolist(self):
        raise self._freed("tolist")

    def item(self):
        raise self._freed("item")

    def detach(self):
        raise self._freed("detach")

    def __array__(self, *args, **kwargs):
        raise self._freed("__array__")


_SHADOWS: "weakref.WeakValueDictionary[int, Shadow]" = weakref.WeakValueDictionary()


def shadowed(inputs: tuple):
    """``inputs`` with each large intermediate Tensor replaced by its shadow, or None when
    there is none to replace. Every add, reshape and slice runs this, nearly always on small
    tensors, so a first plain loop tests only the size, inline (any(generator), or a call of
    _sheddable per input, cost more than that test); the whole test runs only when one is large."""
    for x in inputs:
        if type(x) is Tensor and x.data.size >= SHADOW_MIN_ELEMENTS:
            break
    else:
        return None
    return tuple(shadow_of(x) if _sheddable(x) else x for x in inputs)


def _sheddable(x) -> bool:
    """A large intermediate (not a leaf) whose maker's VJP does not read it as its output."""
    return (type(x) is Tensor and x.data.size >= SHADOW_MIN_ELEMENTS and x._node is not None
            and not x._node.uses_output)


def shadow_of(x: Tensor) -> Shadow:
    """One shadow per tensor and history (an in-place op gives the tensor a new history)."""
    known = _shadow_of_existing(x)
    if known is not None and known._node is x._node:
        return known
    shadow = Shadow._make(backend_for(x.data).stand_in(x.data))
    shadow._origin, shadow._pinned = weakref.ref(x), (x if x._hooks or x._retains_grad else None)
    shadow._node, shadow.requires_grad, shadow.name = x._node, x.requires_grad, x.name
    _SHADOWS[id(x)] = shadow
    return shadow


def _shadow_of_existing(t: Tensor):
    known = _SHADOWS.get(id(t))
    return known if known is not None and known._origin() is t else None


def pin(t: Tensor) -> None:
    """A hook or retain_grad on ``t``: its shadow, if any, keeps ``t`` itself alive, so the
    hook runs and ``.grad`` lands even when the user drops ``t`` before backward."""
    known = _shadow_of_existing(t)
    if known is not None:
        known._pinned = t


def detached(t: Tensor) -> None:
    """``t.detach_()`` after ``t`` was read: its shadow stops carrying the history too, so the
    gradient is the same whether ``t`` is still alive or not."""
    known = _shadow_of_existing(t)
    if known is not None:
        known._node, known.requires_grad = None, False


def rename(t: Tensor) -> None:
    """``t.named(...)`` after ``t`` was read: its shadow carries the new name too."""
    known = _shadow_of_existing(t)
    if known is not None:
        known.name = t.name


def live(edges: tuple) -> tuple:
    """The edges with every shadow whose original is still alive replaced by the original."""
    out = []
    for x in edges:
        if type(x) is Shadow:
            origin = x._origin()
            if origin is not None:
                x = origin
        out.append(x)
    return tuple(out)


def values_freed(t) -> bool:
    """True for a shadow: its data is a stand-in, not the tensor's values."""
    return type(t) is Shadow
