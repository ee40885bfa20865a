"""Gradient checkpointing, as ``torch.utils.checkpoint.checkpoint``: trade compute for memory.

    y = tg.checkpoint(segment, x, h)       # same values and gradients as segment(x, h)

The forward pass runs ``segment`` and keeps only its inputs and outputs: its intermediate
values are dropped. Backward runs ``segment`` again (with the random generators put back as
they were, so dropout draws the same mask), backpropagates through the recomputed graph and
hands the inputs their gradients. Chaining k-step segments over T steps keeps T/k segment
boundaries plus one segment's graph at a time: memory O(T/k + k) instead of O(T), for about
one extra forward pass.

The tensors the segment reads without receiving them as arguments (a module's parameters,
or ``w.mT`` computed before) get their gradients too: the first run records the segment once
to find them, they become inputs of the checkpoint's tape entry, and the backward through
the recomputed segment stops at them (the outer backward carries on from there).
"""
from __future__ import annotations

from .backends import get_rng_state, set_rng_state
from .engine import run_backward
from .function import Function, _tape_position
from .grad_mode import enable_grad
from .state import STATE
from .tensor import Tensor


def checkpoint(function, *args, preserve_rng_state: bool = True, use_reentrant=None):
    """``function(*args)``, recomputed in backward instead of stored. It returns a Tensor or a
    tuple of Tensors; gradients flow to the Tensor arguments and the parameters it reads."""
    if not STATE.grad_enabled:
        return function(*args)          # nothing will be differentiated: nothing to save
    tensors = [a for a in args if isinstance(a, Tensor)]
    rng = get_rng_state() if preserve_rng_state else None
    start = next(_tape_position)
    with enable_grad():
        detached = [_leaf_like(a) for a in args]
        outputs = function(*detached)
    single = isinstance(outputs, Tensor)
    outputs = (outputs,) if single else tuple(outputs) if isinstance(outputs, (tuple, list)) \
        else (outputs,)
    for o in outputs:
        if not isinstance(o, Tensor):
            raise TypeError(f"checkpoint: the function must return Tensors, got "
                            f"{type(o).__name__}")
        if o.dtype != outputs[0].dtype:
            raise TypeError(f"checkpoint: the outputs must share one dtype, got "
                            f"{sorted({str(p.dtype) for p in outputs})}")
    arguments = {id(d) for d in detached if isinstance(d, Tensor)}
    arguments |= {id(d._node.inputs[0]) for d in detached
                  if isinstance(d, Tensor) and d._node is not None}    # the leaves behind them
    params = _external([o for o in outputs if o.requires_grad], start, arguments)
    if not any(o.requires_grad for o in outputs):
        return outputs[0] if single else outputs       # nothing to differentiate
    node = _Checkpoint(function, args, rng, [o.data for o in outputs], len(params))
    packed = node.apply(*tensors, *params)
    del outputs                                           # the segment's graph goes here
    results, offset = [], 0
    for shape, size in zip(node.shapes, node.sizes):
        results.append(packed[offset:offset + size].reshape(shape))
        offset += size
    return results[0] if single else tuple(results)


def _external(outputs: list, start: int, arguments: set) -> list:
    """The tensors requiring grad that the segment read without making them: parameters, and
    values computed before it (``w.mT`` in a closure), recorded before tape position ``start``."""
    found, seen, stack = [], set(), list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        node = t._node
        if node is None or node.seq < start:
            if t.requires_grad and id(t) not in arguments:
                found.append(t)
            continue
        stack.extend(x for x in node.inputs if isinstance(x, Tensor))
    return found


def _leaf_like(value):
    """A tensor argument as a fresh leaf (requiring grad where the original does), seen by the
    function through an identity entry, as it would see a computed value (ops that treat
    leaves specially, such as the composed sweep's lazy slices, then behave the same)."""
    if not isinstance(value, Tensor):
        return value
    leaf = value.detach()
    if not value.requires_grad:
        return leaf
    from .forward_ad import _Alias
    return _Alias().apply(leaf.requires_grad_())


class _Checkpoint(Function):
    """y = the segment's outputs (computed already), flattened and joined: one output on the
    tape. Its inputs: the segment's tensor arguments and the tensors it reads from outside.
    g_args, g_outside = backward through the recomputed segment, gy split back per output."""
    name, formula = "checkpoint", "g = backward(recompute(segment), gy)"
    forward_ad_hint = "call the function itself (not through tg.checkpoint) in forward mode"

    def __init__(self, function, args, rng, values: list, param_count: int):
        self.function, self.args, self.rng = function, args, rng
        self.values = values             # the first run's output arrays, until forward joins them
        self.shapes = [tuple(v.shape) for v in values]
        self.sizes = [_count(s) for s in self.shapes]
        self.param_count = param_count

    def forward(self, *arrays):
        values, self.values = self.values, None      # only the joined copy is kept
        if len(values) == 1:
            return values[0].reshape(-1)
        return _xp(values[0]).concatenate([v.reshape(-1) for v in values])

    def backward(self, gy, y):
        if STATE.grad_enabled:        # the outer backward has create_graph=True
            from .errors import BackwardError
            raise BackwardError(
                "checkpoint: gradients of gradients through tg.checkpoint are not supported "
                "(the recomputed segment starts from detached copies of its arguments); call "
                "the function without tg.checkpoint to take second derivatives")
        inputs = self.inputs
        tensors = inputs[:len(inputs) - self.param_count]
        params = inputs[len(inputs) - self.param_count:]
        resumed = get_rng_state() if self.rng is not None else None
        if self.rng is not None:
            set_rng_state(self.rng)
        try:
            with enable_grad():
                detached = [_leaf_like(a) if isinstance(a, Tensor) else a for a in self.args]
                # the arguments as they are now: the tape entry's inputs (same values)
                outputs = self.function(*detached)
        finally:
            if resumed is not None:
                set_rng_state(resumed)
        outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
        pieces, offset = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            pieces.append(gy[offset:offset + size].reshape(shape))
            offset += size
        live = [(o, g) for o, g in zip(outputs, pieces) if o.requires_grad]
        watched = [d for d in detached if isinstance(d, Tensor)] + list(params)
        wanted = [w for w in watched if w.requires_grad]
        found = run_backward([o for o, _ in live], [g for _, g in live], wanted=wanted,
                             accumulate=False, stop_at_wanted=True)
        by_id = {id(w): g for w, g in zip(wanted, found)}
        grads = [by_id.get(id(w)) for w in watched]
        return tuple(grads)


def _count(shape: tuple) -> int:
    count = 1
    for side in shape:
        count *= side
    return count


def _xp(array):
    from .backends import backend_for
    return backend_for(array).xp


__all__ = ["checkpoint"]
