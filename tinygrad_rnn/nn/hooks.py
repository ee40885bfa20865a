"""Module hooks, as torch's: code that runs around a module's forward and backward.

* forward pre-hook ``hook(module, args)``: before forward; may return new args;
* forward hook ``hook(module, args, output)``: after forward; may return a new output;
* full backward hook ``hook(module, grad_input, grad_output)``: once the gradients with
  respect to the module's tensor inputs are known; may return a new grad_input.

The backward hook works as torch's BackwardHook: the tensor inputs and outputs pass through
identity tape entries (``backward_hook``) so that their gradients can be seen. grad_output
collects what reaches the outputs (None for an output with no gradient); the hook fires when
the last input that the outputs depend on has its gradient (or, if none does, when the
outputs' gradients are in, with grad_input all None).
"""
from __future__ import annotations

from ..autograd import RemovableHandle
from ..function import Function
from ..tape import graph_tensors
from ..tensor import Tensor


def add_hook(hooks: dict, hook) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"register hook: expected a callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def call(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks."""
    for hook in tuple(module._forward_pre_hooks.values()):
        replaced = hook(module, args)
        if replaced is not None:
            args = replaced if isinstance(replaced, tuple) else (replaced,)
    call_ = _BackwardCall(module) if module._backward_hooks else None
    if call_ is not None:
        args = call_.watch_inputs(args)
    output = module.forward(*args, **kwargs)
    for hook in tuple(module._forward_hooks.values()):
        replaced = hook(module, args, output)
        if replaced is not None:
            output = replaced
    if call_ is not None:
        output = call_.watch_outputs(output)
    return output


class _Watch(Function):
    """y = x: an identity tape entry that lets a backward hook see x's gradient. gx = gy."""
    __slots__ = ("call", "slot", "side")
    name, formula, saves_inputs = "backward_hook", "gx = gy", False

    def __init__(self, call, side: str, slot: int):
        self.call, self.side, self.slot = call, side, slot

    def forward(self, x):
        return x

    def backward(self, gy, y):
        return (self.call.arrived(self.side, self.slot, gy),)

    def jvp(self, tangents, y):
        """ty = tx."""
        return tangents[0]


class _BackwardCall:
    """One call of a module with full backward hooks: its inputs' and outputs' gradients."""

    def __init__(self, module):
        self.module = module
        self.inputs: list = []         # the watched input tensors (None: not a watched tensor)
        self.grad_inputs: list = []
        self.grad_outputs: list = []
        self.waiting: set = set()      # watched input slots the outputs depend on, not yet in

    def watch_inputs(self, args: tuple) -> tuple:
        watched = []
        for i, value in enumerate(args):
            if isinstance(value, Tensor) and value.requires_grad:
                value = _Watch(self, "input", i).apply(value)
                self.inputs.append(value)
            else:
                self.inputs.append(None)
            watched.append(value)
        self.grad_inputs = [None] * len(args)
        return tuple(watched)

    def watch_outputs(self, output):
        tensors = []

        def wrap(value):
            if isinstance(value, Tensor):
                slot = len(tensors)
                tensors.append(value)
                if value.requires_grad:
                    return _Watch(self, "output", slot).apply(value)
                return value
            if isinstance(value, (tuple, list)):
                return type(value)(wrap(v) for v in value)
            return value
        wrapped = wrap(output)
        self.grad_outputs = [None] * len(tensors)
        reached = {id(t) for t in graph_tensors([t for t in tensors if t.requires_grad])}
        self.waiting = {i for i, t in enumerate(self.inputs)
                        if t is not None and id(t) in reached}
        live = [i for i, t in enumerate(tensors) if t.requires_grad]
        self.first_output = live[0] if live else -1     # its watch entry runs last
        return wrapped

    def arrived(self, side: str, slot: int, grad: Tensor) -> Tensor:
        if side == "output":
            self.grad_outputs[slot] = grad
            if not self.waiting and slot == self.first_output:
                self._fire(None)           # no input depends on the outputs: fire now
            return grad
        self.grad_inputs[slot] = grad
        self.waiting.discard(slot)
        if self.waiting:
            return grad
        replaced = self._fire(slot)
        return grad if replaced is None else replaced[slot]

    def _fire(self, slot):
        """Run the hooks; ``slot`` is the input whose gradient is still to be passed on (the
        others have been: backward reaches the inputs one after the other)."""
        grad_input, grad_output = tuple(self.grad_inputs), tuple(self.grad_outputs)
        result = None
        for hook in tuple(self.module._backward_hooks.values()):
            replaced = hook(self.module, grad_input, grad_output)
            if replaced is None:
                continue
            replaced = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
            if len(replaced) != len(grad_input):
                raise RuntimeError(f"backward hook of {type(self.module).__name__}: returned "
                                   f"{len(replaced)} gradients for {len(grad_input)} inputs")
            changed = [i for i, (new, old) in enumerate(zip(replaced, grad_input))
                       if new is not old and i != slot]
            if changed:
                raise RuntimeError(
                    f"backward hook of {type(self.module).__name__}: only the gradient of the "
                    f"input backward reaches last (input {slot}) can be replaced; inputs "
                    f"{changed} had passed theirs on already (see docs/differences.md)")
            grad_input, result = replaced, replaced
        return result
