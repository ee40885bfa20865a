"""Function: one primitive op and, once recorded, one node of the tape.

An op subclasses Function and writes two short methods next to each other:

* ``forward(self, *arrays)``: backend arrays (or Python scalars) in, one array out;
* ``backward(self, gy, y)``: the vector-Jacobian product. ``gy`` is dL/dy as a
  Tensor, ``y`` the op's output Tensor, ``self.edges`` the recorded inputs; it
  returns one gradient per input (None where an input needs none). It is written
  with Tensor operations, so running it with recording on (``create_graph=True``)
  differentiates the backward pass itself: that is how gradients of gradients work.
* ``jvp(self, tangents, y)``: the Jacobian-vector product, for forward mode
  (``tg.forward_ad``). ``tangents`` holds one tangent per input (None where an
  input has none; at least one is given), ``y`` is the output; it returns y's
  tangent (None if it has none). Also written with Tensor operations, so it is
  differentiable by reverse mode, and the VJP, run inside a dual level, carries
  tangents: that is forward-over-reverse (Hessian-vector products). A tangent
  that broadcasts to y's shape is broadcast, as NumPy would.

``Op(args).apply(*inputs)`` runs the forward. When grad mode is on and an input
requires grad, the instance becomes a tape entry: it keeps its inputs as ``edges`` (an op
that saves nothing keeps large ones as shadows without values, edges.py) and its
position ``seq`` on the tape (a global, increasing counter). The tape order is a
topological order, so backward only has to visit entries by decreasing ``seq``.
"""
from __future__ import annotations

import itertools

from .backends import backend_for
from .edges import live, shadowed
from .errors import OpError, describe
from .state import STATE
from .tensor import Tensor

_tape_position = itertools.count()


def needs_grad(value) -> bool:
    """True when ``value`` is a Tensor whose gradient is wanted."""
    return isinstance(value, Tensor) and value.requires_grad


class Function:
    __slots__ = ("edges", "_shadows", "seq", "versions", "edit_stamp", "scope", "site",
                 "derived_from")
    name = "function"        # shown in the tape and in error messages
    saves_inputs = True      # backward reads the inputs' values (so in-place edits matter)
    reads_inputs = None      # which of them, when not all (indices): the others may be edited
    uses_output = False      # backward reads the output's value
    takes_lazy_grad = False  # backward accepts gy as a lazy sum (accumulate.parts_of reads it)
    may_view = False         # the output may share memory with input 0 (reshape, slicing, ...)
    formula = ""             # the VJP in words, for the tape and the graph drawings
    forward_ad_hint = ""     # said when an op without a JVP meets forward mode

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy: Tensor, y: Tensor):
        raise NotImplementedError

    def jvp(self, tangents: tuple, y: Tensor):
        raise NotImplementedError(
            f"{self.name}: this op has no forward-mode derivative (jvp), so tangents cannot "
            f"pass through it{'; ' + self.forward_ad_hint if self.forward_ad_hint else ''}")

    def extra_repr(self) -> str:
        """Non-tensor arguments, shown in the tape (e.g. ``axis=1``)."""
        return ""

    # ``edges`` (a slot) is what the entry holds: the recorded inputs, except that a large one
    # this entry's VJP does not read is held as a shadow (edges.py), None once released. The
    # VJPs and JVPs read ``self.edges``: a shadow has the shape, dtype, device and history
    # they use, and a slot costs no call (a property took 70 ns more, on every backward step).
    @property
    def inputs(self):
        """The recorded inputs (None once released), each shadow given back as the tensor
        itself while that is alive: what the tape, the drawings and hooks see."""
        return live(self.edges) if self._shadows else self.edges

    @inputs.setter
    def inputs(self, value) -> None:
        self.edges, self._shadows = value, False

    def apply(self, *inputs) -> Tensor:
        arrays = []
        requires_grad = mutated = False
        for value in inputs:
            if isinstance(value, Tensor):
                arrays.append(value.data)
                if value.requires_grad:
                    requires_grad = True
                if value._version or value._base is not None:
                    mutated = True
            else:
                arrays.append(value)
        try:
            data = self.forward(*arrays)
        except Exception as error:
            raise self.failure(inputs, error) from None
        out = Tensor._make(data)
        if self.may_view:
            _link_view(out, inputs[0], self)
        if requires_grad and STATE.grad_enabled:
            self.edges, self._shadows = inputs, False
            self.seq = next(_tape_position)
            self.versions = ([v.version if isinstance(v, Tensor) else 0 for v in inputs]
                             if mutated else None)
            self.edit_stamp = STATE.inplace_edits
            self.scope = STATE.scope
            self.site = None
            self.derived_from = STATE.deriving   # (kind, entry) inside a JVP or a recorded VJP
            out.requires_grad = True
            out._node = self
            if STATE.anomaly:
                from .anomaly import check_forward
                check_forward(self, out)
            if not self.saves_inputs:
                edges = shadowed(inputs)   # inputs this VJP never reads need not stay alive
                if edges is not None:
                    self.edges, self._shadows = edges, True
        elif STATE.anomaly:
            from .anomaly import check_forward
            self.site = None
            check_forward(self, out)
        if STATE.forward_ad is not None:
            self._push_tangent(inputs, out)
        return out

    def _push_tangent(self, inputs, out: Tensor) -> None:
        """Forward mode: give ``out`` the tangent ``jvp`` computes from the inputs' tangents."""
        tangents = tuple(v._tangent if isinstance(v, Tensor) else None for v in inputs)
        if out.dtype.kind not in "fc" or all(t is None for t in tangents):
            return
        level, deriving = STATE.forward_ad, STATE.deriving
        STATE.forward_ad = None        # one level: the tangent program carries no tangents itself
        STATE.deriving = ("tangent", self)
        try:
            self.inputs = inputs
            tangent = self.jvp(tangents, out)
            if tangent is not None:
                if tangent.shape != out.shape:
                    tangent = tangent.broadcast_to(out.shape)
                if tangent.dtype != out.dtype:
                    tangent = tangent.to(str(out.dtype))
        finally:
            STATE.forward_ad, STATE.deriving = level, deriving
        if tangent is not None:
            level.attach(out, tangent, self)

    def failure(self, inputs, error: Exception) -> OpError:
        """The error raised when forward fails: it names the op and its inputs."""
        tensors = [v for v in inputs if isinstance(v, Tensor)]
        devices = {t.device for t in tensors}
        if len(devices) > 1:
            return OpError(f"{self.name}: tensors on different devices ({', '.join(sorted(devices))}); "
                           "move them to one device with .to(device)")
        if isinstance(error, OpError):
            return OpError(f"{self.name}: {error}")
        shapes = " and ".join(describe(v) for v in inputs)
        reason = str(error).split("\n")[0]
        return OpError(f"{self.name}: cannot apply to {shapes}"
                       + (f" ({reason})" if reason else ""))

    def check_versions(self, y: Tensor, label=None) -> None:
        """Raise if a value backward needs was changed in place after it was recorded.
        ``label(y)`` names the entry as the tape printout numbers it (``%k``)."""
        if self.saves_inputs:
            for i, value in enumerate(self.inputs):
                if self.reads_inputs is not None and i not in self.reads_inputs:
                    continue
                if isinstance(value, Tensor):
                    saved = self.versions[i] if self.versions is not None else 0
                    if value.version != saved:
                        raise _modified(self, _where(y, label), f"input {i}", saved, value.version)
        if self.uses_output and y.version:
            raise _modified(self, _where(y, label), "output", 0, y.version)

    def release(self) -> None:
        """Drop what backward needed; a later backward through here raises. An entry that
        saved nothing keeps its inputs (they are its graph edges), so backward through
        ``c = b + 1`` twice works as in torch."""
        if self.saves_inputs or self.uses_output:
            self.edges, self._shadows = None, False

    def __repr__(self) -> str:
        return f"<{self.name} #{getattr(self, 'seq', '?')}>"


def _link_view(out: Tensor, source, function: "Function") -> None:
    """Mark ``out`` as a view of ``source``'s memory when it really is one (NumPy and CuPy
    return views for basic slicing, transposes and most reshapes, copies otherwise)."""
    data = out.data
    if getattr(data, "base", None) is not None and backend_for(data).xp.may_share_memory(data, source.data):
        out._base = source if source._base is None else source._base
        out._view_of = (source, function)


def _where(y: Tensor, label) -> str:
    if label is None:
        from .tape import entry_label
        return entry_label(y, y)
    return label(y)


def _modified(function: Function, where: str, which: str, saved: int, now: int):
    from .errors import BackwardError
    return BackwardError(
        f"{function.name} (tape entry {where}): its {which} was modified in place after "
        f"it was recorded (saved at version {saved}, now version {now}), so its gradient would be "
        "wrong; clone the tensor before changing it, or recompute the forward pass")
