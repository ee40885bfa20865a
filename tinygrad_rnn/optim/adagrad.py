"""Adagrad: per-coordinate learning rates scaled by the accumulated squared gradients."""
from __future__ import annotations

from ..backends import backend_for
from .optimizer import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011; PyTorch's ``torch.optim.Adagrad``). At step t:

        g_t <- -g_t                                   if maximize
        g_t <- g_t + weight_decay * p                 (if weight_decay != 0)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s_t  = s_{t-1} + g_t^2                        (s_0 = initial_accumulator_value)
        p   <- p - lr_t * g_t / (sqrt(s_t) + eps)

    State per parameter: ``step`` (t) and ``sum`` (s_t).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        if group["lr_decay"] < 0.0:
            raise ValueError(f"Adagrad: invalid lr_decay {group['lr_decay']} (must be >= 0)")
        if group["initial_accumulator_value"] < 0.0:
            raise ValueError("Adagrad: invalid initial_accumulator_value "
                             f"{group['initial_accumulator_value']} (must be >= 0)")
        if group["eps"] < 0.0:
            raise ValueError(f"Adagrad: invalid eps {group['eps']} (must be >= 0)")

    def _update(self, p, grad, state, group) -> None:
        xp = backend_for(p.data).xp
        state["step"] = step = state.get("step", 0) + 1
        total = self._buffer(state, "sum", p, group["initial_accumulator_value"]).data
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total += grad * grad
        p.sub_(grad / (xp.sqrt(total) + group["eps"]), alpha=lr)
