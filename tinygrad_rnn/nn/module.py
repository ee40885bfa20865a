"""Module: the base of every layer and model; it tracks parameters, buffers and sub-modules
by attribute name, so ``named_parameters`` and ``state_dict`` use PyTorch's dotted names
(``encoder.weight_hh_l0``)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator, NamedTuple

from ..grad_mode import no_grad
from ..tensor import Tensor
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registry
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        """Register ``value`` (or an absent, None, parameter such as a disabled bias)."""
        setattr(self, name, value)
        if value is None:
            self._parameters[name] = None

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A tensor saved in the state dict but not trained (e.g. running statistics)."""
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    # ----------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        stack = [(prefix, self)]
        seen = set()
        while stack:                         # explicit stack: deep models never recurse
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, sub)
                        for child, sub in module._modules.items() if sub is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def apply(self, fn) -> "Module":
        """``fn(m)`` for every submodule, children before their parent (as torch), then
        returns self: ``model.apply(init_weights)``."""
        for module in reversed(list(self.modules())):     # pre-order reversed: children first
            fn(module)
        return self

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------- state
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) for every parameter and buffer in PyTorch's state_dict order:
        a module's own parameters, then its own buffers, then its children's, depth first;
        a shared (tied) tensor is listed under each of its names, as PyTorch does."""
        stack = [("", self)]
        while stack:                         # explicit stack: deep models never recurse
            prefix, module = stack.pop()
            for registry in (module._parameters, module._buffers):
                for name, tensor in registry.items():
                    if tensor is not None:
                        yield prefix + name, tensor
            stack.extend(reversed([(f"{prefix}{name}.", sub)
                                   for name, sub in module._modules.items() if sub is not None]))

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Every parameter and buffer by dotted name (detached tensors sharing the values)."""
        return OrderedDict((name, tensor.detach()) for name, tensor in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values in by name. Arrays (numpy/cupy) and Tensors are accepted, so a
        ``{k: v.numpy() for k, v in torch_module.state_dict().items()}`` loads unchanged.
        Missing or unexpected keys (when ``strict``) and any shape mismatch raise PyTorch's
        RuntimeError, listing every one with the sizes, before anything is copied."""
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []                         # PyTorch's RuntimeError, in its words and order
        if strict and missing:
            problems.append("Missing key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in unexpected) + ".")
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(getattr(state_dict[key], "shape", ()))
                if shape != tuple(target.shape):
                    problems.append(f"size mismatch for {key}: copying a param with shape "
                                    f"{shape} from checkpoint, the shape in current model is "
                                    f"{tuple(target.shape)}.")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    value = state_dict[key]
                    value = value if isinstance(value, Tensor) else Tensor(value)
                    value = value.to(target.device)
                    target.copy_(value.data.astype(target.dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = p.grad * 0

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, device=None, dtype=None) -> "Module":
        """Move (and/or cast) every parameter and buffer in place: the Parameter objects
        stay the same, so an optimizer built before ``to`` keeps working."""
        for tensor in list(self.parameters()) + list(self.buffers()):
            moved = tensor.detach().to(device, dtype)
            tensor.data = moved.data
            if tensor.grad is not None:
                tensor.grad = tensor.grad.to(device, dtype)
        return self

    def double(self) -> "Module":
        return self.to("float64")

    def float(self) -> "Module":
        return self.to("float32")

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, index: int = 0) -> "Module":
        return self.to(f"cuda:{index}")

    # -------------------------------------------------------------- call
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        # nested modules, indented as PyTorch prints them
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        if not children:
            return lines[0] + ")"
        for name, module in children:
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
