"""Optimizer: the base of every update rule (PyTorch's ``torch.optim.Optimizer`` conventions).

An optimizer holds ``param_groups``, a list of dicts each with its ``"params"`` and its own
hyper-parameters (``lr``, ...; missing ones come from the optimizer's defaults), and ``state``,
a dict from parameter to that parameter's buffers (momentum, moment estimates, ...).

``step()`` runs under ``tg.no_grad()`` and changes every parameter that has a ``.grad``
*in place*: the Parameter objects and their arrays stay the same (a Module keeps pointing at
them) and each edit bumps the parameter's version counter through the Tensor in-place
methods (``sub_``, ``mul_``), so a graph recorded before the step and backpropagated after it
is reported instead of silently using the new values.

``state_dict()`` / ``load_state_dict()`` use PyTorch's layout::

    {"state": {0: {"step": 3, "exp_avg": Tensor, ...}, ...},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1, 2]}]}

where parameters are numbered in the order the groups list them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from ..backends import backend_for
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class: subclasses set their defaults and implement ``_update``."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of "
                            "dicts, got a single Tensor; pass [tensor] or model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (the rest from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{type(self).__name__}: a parameter group needs a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors, but "
                                f"parameter {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor "
                                 f"(parameter {i} has grad_fn {p.grad_fn}); use .detach()")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} appears twice (in this "
                                 "group or in an earlier one); each parameter may be listed once")
            seen.add(id(p))
        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict) -> None:
        """Raise TypeError for hyper-parameters that are not numbers and ValueError for
        out-of-range ones (subclasses extend)."""
        for key in self.defaults:            # extra keys of the user's own are left alone
            value = group.get(key)
            if key == "betas":
                continue
            if isinstance(value, str) or (value is not None and not isinstance(value, (bool, int, float))
                                          and not hasattr(value, "__float__")):
                raise TypeError(f"{type(self).__name__}: {key} must be a number, got "
                                f"{type(value).__name__} {value!r}")
        betas = group.get("betas", ())
        if not isinstance(betas, (tuple, list)) or any(isinstance(b, str) for b in betas):
            raise TypeError(f"{type(self).__name__}: betas must be a pair of numbers, got {betas!r}")
        if not group.get("lr", 0.0) >= 0.0:              # NaN too, as PyTorch
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']} "
                             "(must be >= 0)")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay "
                             f"{group['weight_decay']} (must be >= 0)")

    # ---------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``.grad = None`` (default), or fresh zeros of the same shape."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    # a new array: gradients may be read-only broadcast views, or shared
                    # between parameters, so they are never zeroed in place
                    p.grad = Tensor._make(backend_for(p.grad.data).xp.zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given
        (the closure re-evaluates the model and calls backward, with recording on)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data if isinstance(p.grad, Tensor) else p.grad
                    if tuple(grad.shape) != tuple(p.shape):
                        raise ValueError(f"{type(self).__name__}.step: parameter of shape "
                                         f"{tuple(p.shape)} has a gradient of shape "
                                         f"{tuple(grad.shape)}")
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    self._update(p, grad, state, group)
        return loss

    def _update(self, p: Tensor, grad, state: dict, group: dict) -> None:
        """Change ``p`` in place from its gradient array ``grad``."""
        raise NotImplementedError

    @staticmethod
    def _buffer(state: dict, name: str, p: Tensor, fill: float = 0.0) -> Tensor:
        """``state[name]``, created as a tensor like ``p`` filled with ``fill`` on first use."""
        buffer = state.get(name)
        if buffer is None:
            buffer = state[name] = Tensor._make(
                backend_for(p.data).xp.full_like(p.data, fill))
        return buffer

    # --------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [...]}``; the buffers are the live
        tensors (as PyTorch), so save or clone them before stepping again."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore buffers and hyper-parameters saved by :meth:`state_dict`. The values are
        copied (never shared) and cast to each parameter's dtype and device; a Tensor, a
        NumPy/CuPy array, or anything NumPy can convert (a CPU ``torch.Tensor``) is accepted."""
        name = type(self).__name__
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups' entries") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter group(s), this optimizer has {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {g} has "
                                 f"{len(saved['params'])} parameter(s) in the state dict but "
                                 f"{len(group['params'])} in this optimizer")
            for i, p in zip(saved["params"], group["params"]):
                by_index[int(i)] = p
        state: dict = {}
        for key, values in saved_state.items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key}, which no "
                                 "parameter group lists")
            restored = {}
            for k, v in values.items():
                restored[k] = _restore(v, p, f"{name}.load_state_dict: state[{key}][{k!r}]")
                if k == "step":                   # PyTorch keeps it as a float tensor
                    restored[k] = int(restored[k])
            state[p] = restored
        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = {key: value for key, value in saved.items() if key != "params"}
            restored["params"] = group["params"]
            groups.append(restored)
        self.state = state
        self.param_groups = groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _restore(value, p: Tensor, where: str):
    """A saved state entry made ready for parameter ``p``: arrays copied onto p's device
    (floating ones cast to p's dtype), the step count an int, anything else unchanged."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if not hasattr(value, "shape"):
        return value
    if not isinstance(value, Tensor):
        value = Tensor(value, device=p.device)
    value = value.detach().to(p.device)
    if value.ndim == 0:                      # e.g. a step count saved as a tensor (PyTorch)
        return value.item()
    if tuple(value.shape) != tuple(p.shape):
        raise ValueError(f"{where} has shape {tuple(value.shape)} but the parameter has shape "
                         f"{tuple(p.shape)}")
    data = value.data.astype(p.dtype) if value.dtype.kind in "fc" else value.data.copy()
    return Tensor._make(data)
