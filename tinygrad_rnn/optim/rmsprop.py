"""RMSprop: gradients divided by a running root-mean-square of their recent magnitudes."""
from __future__ import annotations

from ..backends import backend_for
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e; PyTorch's ``torch.optim.RMSprop``). At step t:

        g_t <- -g_t                                   if maximize
        g_t <- g_t + weight_decay * p                 (if weight_decay != 0)
        v_t  = alpha * v_{t-1} + (1 - alpha) * g_t^2  (v_0 = 0)
        if centered:
            a_t = alpha * a_{t-1} + (1 - alpha) * g_t (a_0 = 0)
            d_t = sqrt(v_t - a_t^2) + eps
        else:
            d_t = sqrt(v_t) + eps
        if momentum > 0:
            b_t = momentum * b_{t-1} + g_t / d_t      (b_0 = 0)
            p  <- p - lr * b_t
        else:
            p  <- p - lr * g_t / d_t

    State per parameter: ``step``, ``square_avg`` (v_t), ``grad_avg`` (a_t, if centered),
    ``momentum_buffer`` (b_t, if momentum > 0).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        if group["alpha"] < 0.0:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']} (must be >= 0)")
        if group["eps"] < 0.0:
            raise ValueError(f"RMSprop: invalid eps {group['eps']} (must be >= 0)")
        if group["momentum"] < 0.0:
            raise ValueError(f"RMSprop: invalid momentum {group['momentum']} (must be >= 0)")

    def _update(self, p, grad, state, group) -> None:
        xp = backend_for(p.data).xp
        alpha = group["alpha"]
        state["step"] = state.get("step", 0) + 1
        square_avg = self._buffer(state, "square_avg", p).data
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = self._buffer(state, "grad_avg", p).data
            grad_avg += (1 - alpha) * (grad - grad_avg)
            denom = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denom = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buffer = self._buffer(state, "momentum_buffer", p).data
            buffer *= group["momentum"]
            buffer += grad / denom
            p.sub_(buffer, alpha=group["lr"])
        else:
            p.sub_(grad / denom, alpha=group["lr"])
