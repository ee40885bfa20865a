"""The backward engine: reverse-mode accumulation over the tape.

Every tape entry has a sequence number ``seq`` larger than those of the entries
that produced its inputs, so visiting entries by *decreasing* ``seq`` visits
each one only after every gradient flowing into it has arrived. A heap keyed
by ``-seq`` gives that order with an explicit worklist: no recursion, linear
in the number of entries (plus the heap's log factor).

For each entry: dL/dy (summed over all its uses) goes through the entry's VJP,
and each input's share is added to that input's pending sum, or, for leaves,
to ``.grad``.
"""
from __future__ import annotations

import gc
import heapq
import sys
from time import perf_counter
from typing import Sequence

from . import accumulate as sums
from .backends import backend_for
from .edges import live
from .errors import BackwardError
from .grad_mode import set_grad_enabled
from .state import STATE
from .tensor import Tensor


def run_backward(roots: Sequence[Tensor], root_grads, retain_graph: bool = False,
                 create_graph: bool = False, wanted: Sequence[Tensor] | None = None,
                 accumulate: bool = True, observer=None, stop_at_wanted: bool = False):
    """Backpropagate from ``roots``. With ``accumulate``, leaf gradients are added to
    ``.grad``; with ``wanted``, the gradients of those tensors are returned (``tg.grad``).
    ``observer(y, gy, grads)``, if given, is called after each tape entry's VJP runs (y is the
    entry's output, gy its total gradient, grads what it sent to its inputs): the graph
    drawings use it to show backward one step at a time. With ``stop_at_wanted`` the walk
    ends at the wanted tensors (their history is left alone: tg.checkpoint's segments)."""
    wanted_ids = {id(t): i for i, t in enumerate(wanted)} if wanted is not None else {}
    found: list = [None] * len(wanted_ids)
    pending: dict = {}       # tape entry -> dL/d(its output), summed so far
    leaf_grads: dict = {}    # id(leaf) -> (leaf, dL/d(leaf))
    heap: list = []

    # The walk allocates many short-lived objects but never a reference cycle, so the cyclic
    # collector would only rescan the (large) graph again and again: pause it meanwhile.
    handed: set = set()      # ids of gradient tensors someone else holds (roots, retained)
    collecting = gc.isenabled()
    gc.disable()
    profiler = STATE.profiler
    if profiler is not None:       # ops run by backward count as backward time, not as ops
        profiler.in_backward += 1
    overwrite = STATE.overwrite_saved
    STATE.overwrite_saved = not (retain_graph or create_graph)
    try:
        _walk(roots, root_grads, retain_graph, create_graph, wanted_ids, found, pending,
              leaf_grads, heap, observer, handed, stop_at_wanted)
    finally:
        STATE.overwrite_saved = overwrite
        if collecting:
            gc.enable()
        if profiler is not None:
            profiler.in_backward -= 1

    for key in list(leaf_grads):
        leaf, total = leaf_grads.pop(key)     # (no reference left behind: see _own)
        grad = sums.finish(total)
        del total
        if leaf._hooks:
            grad = leaf._run_hooks(grad)
        if grad.dtype != leaf.dtype and leaf.dtype.kind in "fc":
            grad = grad.to(str(leaf.dtype))       # a leaf's gradient has the leaf's dtype (torch)
        if wanted_ids and id(leaf) in wanted_ids:
            found[wanted_ids[id(leaf)]] = grad
        if accumulate:
            if leaf.grad is None:
                leaf.grad = _own(grad, handed, create_graph)
            elif (create_graph or leaf.grad.requires_grad or leaf.grad.shape != grad.shape
                  or not getattr(leaf.grad.data.flags, "writeable", True)):
                leaf.grad = leaf.grad + grad
            else:   # in place, as torch: g = x.grad sees later backward calls too
                leaf.grad.data += grad.data
                leaf.grad._bump()
    return [None if g is None else _own(g, handed, create_graph) for g in found]


def _own(grad: Tensor, handed: set, create_graph: bool) -> Tensor:
    """``grad`` as a tensor nobody else holds, in writable memory of its own: a VJP may hand one
    tensor to several inputs (or pass on the caller's root gradient), keep the array it
    returns, or return a read-only broadcast view. Without create_graph, the tensor itself when
    nothing else refers to it or its array (as PyTorch's AccumulateGrad steals a gradient whose
    use count says so: no copy of every parameter's gradient at every step), else a copy; with
    create_graph, a differentiable clone if needed. The caller holds ``grad`` in one local."""
    if not create_graph and grad._tangent is None:   # (a tangent: forward over reverse)
        if id(grad) not in handed and _alone(grad):
            handed.add(id(grad))
            return grad
        return Tensor._make(grad.data.copy())
    data = grad.data
    if (id(grad) in handed or getattr(data, "base", None) is not None
            or not getattr(data.flags, "writeable", True)):
        grad = grad.clone()            # keeps its history and its tangent, if it has them
    handed.add(id(grad))
    return grad


def _alone(grad: Tensor) -> bool:
    """True when the references to ``grad`` and to its array are those of a tensor that _own's
    caller holds in one local, and the array owns its writable memory (no view of another)."""
    return (_references(grad) == _ALONE and getattr(grad.data, "base", None) is None
            and getattr(grad.data.flags, "writeable", True))


def _references(grad) -> tuple:
    """(references to grad, references to its array), as sys.getrefcount sees them here."""
    return sys.getrefcount(grad), sys.getrefcount(grad.data)


def _references_when_alone() -> tuple:
    """What _alone counts for a tensor held as _own's caller holds it: measured, not assumed,
    since CPython's own references on the way (the frame's, the call's) differ by version."""
    class Holder:
        __slots__ = ("data",)

    def own(grad):                    # the same calls as _own -> _alone -> _references
        return alone(grad)

    def alone(grad):
        return _references(grad)

    grad = Holder()
    grad.data = Holder()
    return own(grad)


_ALONE = _references_when_alone()


def _walk(roots, root_grads, retain_graph, create_graph, wanted_ids, found, pending,
          leaf_grads, heap, observer, handed, stop_at_wanted=False) -> None:
    # Entries are released when the walk ends, not one by one: an error raised half-way
    # then still numbers its entry as print(tg.tape(root)) does (the same %k), because the
    # graph is whole until then. The forward's values are all alive when backward starts, so
    # holding them to the end should barely move the peak (reasoned, not measured).
    done: list = []

    def label(y) -> str:
        from .tape import entry_label
        return entry_label(roots, y)

    try:
        _visit(roots, root_grads, create_graph, wanted_ids, found, pending, leaf_grads, heap,
               observer, handed, done, label, stop_at_wanted)
    finally:
        if not retain_graph and done:
            for node in done:
                node.release()
            _RELEASED[0] = max(_RELEASED[0], done[0].seq)   # visited by decreasing seq


def _visit(roots, root_grads, create_graph, wanted_ids, found, pending, leaf_grads, heap,
           observer, handed, done, label, stop_at_wanted) -> None:
    # where nothing needs to see gy as a tensor, an entry that takes lazy sums gets them as
    # they are (a sweep reads the one slice of its output that a loss used, no zeros around it)
    watched = create_graph or STATE.anomaly or STATE.profiler is not None
    plain = not watched and observer is None
    with set_grad_enabled(create_graph):
        for root, grad in zip(roots, _root_gradients(roots, root_grads)):
            handed.add(id(grad))
            _deliver(root, grad, pending, leaf_grads, heap)
        while heap:
            _, y = heapq.heappop(heap)
            node = y._node
            gy = pending.pop(node)
            if type(gy) is not Tensor and not (node.takes_lazy_grad and plain and not y._hooks
                                               and not y._retains_grad and id(y) not in wanted_ids):
                gy = sums.finish(gy)              # a lazy sum (accumulate.py), made an array
            if node.edges is None:
                raise _freed(node, y, label, roots)
            if y._hooks:
                gy = y._run_hooks(gy)
            if y._retains_grad:
                y.grad = gy if y.grad is None else y.grad + gy
                handed.add(id(gy))
            if wanted_ids and id(y) in wanted_ids:
                found[wanted_ids[id(y)]] = gy
                handed.add(id(gy))
                if stop_at_wanted:
                    continue
            if node.edit_stamp != STATE.inplace_edits:   # something was edited in place since
                node.check_versions(y, label)
            if watched:
                grads = _watched_vjp(node, gy, y, create_graph, label)
            else:                       # the hot path: nothing to mark, check or time
                grads = node.backward(gy, y)
            for x, gx in zip(live(node.edges) if node._shadows else node.edges, grads):
                if gx is not None and isinstance(x, Tensor):
                    if x._previous is not None:   # rebased by an in-place op since recorded
                        x = _history_at(x, _saved_version(node, x))
                    if x.requires_grad:
                        _deliver(x, gx, pending, leaf_grads, heap)
            if observer is not None:
                observer(y, gy, [sums.finish(g) for g in grads])
            done.append(node)


def _watched_vjp(node, gy: Tensor, y: Tensor, create_graph: bool, label):
    """The VJP with what is switched on: a create_graph backward marks the entries it records
    as ``node``'s backward program (tg.tape), anomaly mode checks it, a profile times it."""
    profiler = STATE.profiler
    start = perf_counter() if profiler is not None else 0.0
    outer = STATE.deriving
    if create_graph:
        STATE.deriving = ("backward", node)
    try:
        if STATE.anomaly:
            from .anomaly import checked_backward
            grads = checked_backward(node, gy, y, label)
        else:
            grads = node.backward(gy, y)
    finally:
        STATE.deriving = outer
    if profiler is not None:
        profiler.backward(node, perf_counter() - start)
    return grads


_RELEASED = [-1]   # the latest tape position an earlier backward released


def _freed(node, y: Tensor, label, roots) -> BackwardError:
    """A second backward through a freed entry. From a root recorded after that backward (a
    fresh graph), the usual cause is a tensor carried over from an earlier graph (truncated
    BPTT's hidden state) that was not detached: the fix is detach(), not retain_graph."""
    fresh = all(r._node is not None and r._node.seq > _RELEASED[0] for r in roots)
    if not fresh:
        return BackwardError(
            f"backward through {node.name} (tape entry {label(y)}) a second time: its saved "
            "values were freed by an earlier backward; pass retain_graph=True to the first "
            "backward to backward twice")
    return BackwardError(
        f"backward reached {node.name} (tape entry {label(y)}), whose saved values an earlier "
        "backward already freed: a tensor from an earlier graph feeds this one (in truncated "
        "BPTT, the hidden state carried into the next window); detach it where it is carried "
        "over (h = h.detach()) so gradients stop there")


def _saved_version(node, x: Tensor) -> int:
    """The version of input x when ``node`` was recorded."""
    if node.versions is None:
        return 0
    return next(v for t, v in zip(node.inputs, node.versions) if t is x)


def _history_at(x: Tensor, version: int) -> Tensor:
    """The tensor standing for x's history as it was at ``version``: an in-place op at version
    v moved x's earlier history onto a new tensor ``old`` (x._previous holds (v, old))."""
    for rebased_at, old in x._previous:
        if rebased_at >= version:
            return old
    return x


def _deliver(x: Tensor, gx: Tensor, pending: dict, leaf_grads: dict, heap: list) -> None:
    """Add ``gx`` to x's pending gradient (see accumulate.py); queue x's tape entry the first
    time."""
    node = x._node
    if node is None:
        entry = leaf_grads.get(id(x))
        leaf_grads[id(x)] = (x, sums.add(None if entry is None else entry[1], gx))
    elif node in pending:
        pending[node] = sums.add(pending[node], gx)
    else:
        pending[node] = gx
        heapq.heappush(heap, (-node.seq, x))


def _root_gradients(roots, root_grads):
    grads = []
    for i, root in enumerate(roots):
        if not isinstance(root, Tensor):
            raise TypeError(f"backward: expected a Tensor, got {type(root).__name__}")
        if not root.requires_grad:
            raise BackwardError(
                "backward: the tensor does not require grad and has no grad_fn; did you forget "
                "requires_grad=True on an input, or build it under tg.no_grad()?")
        given = None if root_grads is None else root_grads[i]
        if given is None:
            if root.data.size != 1:
                raise BackwardError(
                    f"backward: a gradient can be created implicitly only for a one-element "
                    f"output; this one has shape {tuple(root.shape)}: pass gradient= of that shape")
            grads.append(Tensor._make(backend_for(root.data).xp.ones_like(root.data)))  # 1 even if root is NaN
            continue
        if not isinstance(given, Tensor):
            given = Tensor(given, dtype=root.dtype, device=root.device)
        if given.shape != root.shape:
            raise BackwardError(f"backward: gradient has shape {tuple(given.shape)} but the "
                                f"output has shape {tuple(root.shape)}")
        grads.append(given)
    return grads


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """d(outputs)/d(inputs), returned (not accumulated into ``.grad``), as ``torch.autograd.grad``.

    With ``create_graph=True`` the result is itself differentiable, so
    ``grad(grad(f, x, create_graph=True)[0] @ v, x)`` is a Hessian-vector product.
    """
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_input else tuple(inputs)
    if grad_outputs is not None:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            raise BackwardError("grad: every input must be a Tensor that requires grad")
    found = run_backward(outputs, grad_outputs,
                         retain_graph=create_graph if retain_graph is None else retain_graph,
                         create_graph=create_graph, wanted=inputs, accumulate=False)
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise BackwardError(f"grad: input {i} was not used to compute the outputs; pass "
                                "allow_unused=True to get None for it")
    return tuple(found)
