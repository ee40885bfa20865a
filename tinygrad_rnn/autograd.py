"""The autograd API as torch's ``torch.autograd``: ``backward`` for several roots at once,
``grad``, the ``grad_fn`` graph objects that can be walked from Python (``name()``,
``next_functions``) and the removable handles ``Tensor.register_hook`` returns.

    loss.grad_fn.name()              # 'SumBackward0'
    loss.grad_fn.next_functions      # ((<MulBackward0>, 0),)
    tg.autograd.backward([loss_a, loss_b], [None, None])
"""
from __future__ import annotations

import itertools
from typing import Sequence

from .engine import grad, run_backward
from .tensor import Tensor

__all__ = ["backward", "grad", "GradFn", "AccumulateGrad", "RemovableHandle"]


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of the sum of ``tensors`` (each weighted by its entry of
    ``grad_tensors``; None for a one-element tensor) into the leaves' ``.grad``; with
    ``inputs``, into those tensors only."""
    roots = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if grad_tensors is not None:
        grad_tensors = ((grad_tensors,) if isinstance(grad_tensors, Tensor)
                        else tuple(grad_tensors))
        if len(grad_tensors) != len(roots):
            raise ValueError(f"backward: {len(roots)} tensors but {len(grad_tensors)} "
                             "grad_tensors")
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(roots, grad_tensors, retain_graph=retain, create_graph=create_graph)
        return
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    found = run_backward(roots, grad_tensors, retain_graph=retain, create_graph=create_graph,
                         wanted=inputs, accumulate=False)
    for t, g in zip(inputs, found):
        if g is not None:
            t.grad = g if t.grad is None else t.grad + g


class GradFn:
    """The graph node that produced a tensor, seen from Python as torch's grad_fn: ``name()``
    (e.g. 'MulBackward0') and ``next_functions``, one ``(node, 0)`` per input: the input's
    GradFn, an AccumulateGrad for a leaf that requires grad, or None."""
    __slots__ = ("_node",)

    def __init__(self, node):
        self._node = node

    def name(self) -> str:
        return f"{type(self._node).__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        from .engine import _history_at, _saved_version
        node = self._node
        if node.inputs is None:
            raise RuntimeError(f"{self.name()}: its graph was freed by backward; pass "
                               "retain_graph=True to walk it afterwards")
        edges = []
        for x in node.inputs:
            if isinstance(x, Tensor) and x._previous is not None:
                x = _history_at(x, _saved_version(node, x))
            edges.append((_grad_fn_of(x), 0))
        return tuple(edges)

    def __eq__(self, other) -> bool:
        return isinstance(other, GradFn) and other._node is self._node

    def __hash__(self) -> int:
        return id(self._node)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad:
    """The end of a path: the gradient is added to ``variable.grad`` (a leaf)."""
    __slots__ = ("variable",)

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()

    def __eq__(self, other) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _grad_fn_of(x):
    if not isinstance(x, Tensor) or not x.requires_grad:
        return None
    return AccumulateGrad(x) if x._node is None else GradFn(x._node)


_handle_ids = itertools.count()


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""
    __slots__ = ("_hooks", "id")

    def __init__(self, hooks: dict):
        self._hooks, self.id = hooks, next(_handle_ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
