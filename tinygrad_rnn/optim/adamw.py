"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019; PyTorch's ``torch.optim.AdamW``). Weight decay
    shrinks the parameter directly, outside the adaptive scaling, instead of being added to
    the gradient as an L2 penalty. At step t, with (beta1, beta2) = betas:

        g_t <- -g_t                                   if maximize
        p   <- p * (1 - lr * weight_decay)
        m_t  = beta1 * m_{t-1} + (1 - beta1) * g_t    (m_0 = 0)
        v_t  = beta2 * v_{t-1} + (1 - beta2) * g_t^2  (v_0 = 0)
        v_t' = max(v'_{t-1}, v_t) if amsgrad else v_t
        p   <- p - lr / (1 - beta1^t) * m_t / (sqrt(v_t') / sqrt(1 - beta2^t) + eps)

    State per parameter: as Adam. The default weight_decay is 0.01 (PyTorch's).
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
