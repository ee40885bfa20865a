"""Adam: momentum on the gradient and on its square, with bias correction."""
from __future__ import annotations

import math

from ..backends import backend_for
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015; PyTorch's ``torch.optim.Adam``). At step t, with
    (beta1, beta2) = betas:

        g_t <- -g_t                                   if maximize
        g_t <- g_t + weight_decay * p                 (L2 penalty, if weight_decay != 0)
        m_t  = beta1 * m_{t-1} + (1 - beta1) * g_t    (m_0 = 0)
        v_t  = beta2 * v_{t-1} + (1 - beta2) * g_t^2  (v_0 = 0)
        v_t' = max(v'_{t-1}, v_t) if amsgrad else v_t
        p   <- p - lr / (1 - beta1^t) * m_t / (sqrt(v_t') / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step`` (t), ``exp_avg`` (m_t), ``exp_avg_sq`` (v_t) and, with
    amsgrad, ``max_exp_avg_sq`` (v_t').
    """

    decoupled = False   # AdamW: weight decay shrinks p directly instead of joining g_t

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        name = type(self).__name__
        beta1, beta2 = group["betas"]
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index 0: {beta1} (must be in [0, 1))")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index 1: {beta2} (must be in [0, 1))")
        if group["eps"] < 0.0:
            raise ValueError(f"{name}: invalid eps {group['eps']} (must be >= 0)")

    def _update(self, p, grad, state, group) -> None:
        xp = backend_for(p.data).xp
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        state["step"] = step = state.get("step", 0) + 1
        exp_avg = self._buffer(state, "exp_avg", p).data
        exp_avg_sq = self._buffer(state, "exp_avg_sq", p).data
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if self.decoupled:
                p.mul_(1 - lr * weight_decay)
            else:
                grad = grad + weight_decay * p.data
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        if group["amsgrad"]:
            max_sq = self._buffer(state, "max_exp_avg_sq", p).data
            xp.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        else:
            second = exp_avg_sq
        step_size = lr / (1 - beta1 ** step)
        denom = xp.sqrt(second) / math.sqrt(1 - beta2 ** step) + group["eps"]
        p.sub_(exp_avg / denom, alpha=step_size)
