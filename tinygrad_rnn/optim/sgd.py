"""SGD: stochastic gradient descent, with optional momentum and Nesterov momentum."""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD``). At step t, for each
    parameter p with gradient g_t:

        g_t <- -g_t                                   if maximize
        g_t <- g_t + weight_decay * p                 (L2 penalty, if weight_decay != 0)
        if momentum != 0:
            b_t = g_t                                 at t = 1
            b_t = momentum * b_{t-1} + (1 - dampening) * g_t   after
            g_t <- g_t + momentum * b_t               if nesterov
            g_t <- b_t                                otherwise
        p <- p - lr * g_t

    State per parameter: ``momentum_buffer`` (b_t), when momentum != 0.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']} (must be >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    def _update(self, p, grad, state, group) -> None:
        momentum, lr = group["momentum"], group["lr"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = self._buffer(state, "momentum_buffer", p)
                buffer.data[...] = grad
            else:
                buffer.data *= momentum
                buffer.data += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer.data if group["nesterov"] else buffer.data
        p.sub_(grad, alpha=lr)
