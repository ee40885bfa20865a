"""Gradient clipping (PyTorch's ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``).

Both replace each ``p.grad`` with a clipped copy rather than scaling it in place: a gradient
produced by backward may be a read-only broadcast view, or one array shared by several
parameters (``(a + b).sum()`` gives a and b the same gradient), and scaling a shared array
in place once per parameter would scale it several times.
"""
from __future__ import annotations

import math
from typing import Iterable

from ..backends import backend_for
from ..tensor import Tensor


def _with_grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _norm(array, norm_type: float) -> float:
    """The ``norm_type``-norm of all of ``array``'s elements, as a Python float."""
    if array.size == 0:
        return 0.0
    xp = backend_for(array).xp
    return float(xp.linalg.norm(array.reshape(-1), ord=norm_type))


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

        total = || (||g_1||, ..., ||g_n||) ||          (each a ``norm_type``-norm; inf: max |g|)
        g_i  <- g_i * min(1, max_norm / (total + 1e-6))

    Returns ``total``, the norm *before* clipping, as a 0-d tensor (the first gradient's
    dtype and device). Parameters without a gradient are skipped.
    """
    params = _with_grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(0.0)
    norms = [_norm(p.grad.data, norm_type) for p in params]
    if norm_type == math.inf:
        total = max(norms)
    elif norm_type == -math.inf:
        total = min(norms)
    elif norm_type == 0.0:
        total = float(sum(n != 0 for n in norms))
    else:
        total = math.fsum(n ** norm_type for n in norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}, so they cannot be clipped; pass "
                           "error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:                     # also when total is nan: the gradients become nan
        for p in params:
            p.grad = Tensor._make(p.grad.data * coef)
    first = params[0].grad
    return Tensor(total, dtype=first.dtype, device=first.device)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _with_grads(parameters):
        xp = backend_for(p.grad.data).xp
        p.grad = Tensor._make(xp.clip(p.grad.data, -clip_value, clip_value))
