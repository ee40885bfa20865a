"""Neural-network functions (``import tinygrad_rnn.functional as F``), PyTorch's names.

Each is either one primitive op or a short composition of them, so its gradient
comes from the ops' VJPs.
"""
from __future__ import annotations

from typing import Sequence

from .backends import backend_for
from .errors import OpError
from .ops.elementwise import Softplus, Where
from .ops.shape import Concat, Pad, Stack
from .ops.softmax import LogSoftmax, Softmax
from .tensor import Tensor, _as_tensor


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def softplus(x: Tensor) -> Tensor:
    """ln(1 + e^x), stable for large |x|."""
    return Softplus().apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return Softmax(dim).apply(x)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return LogSoftmax(dim).apply(x)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as PyTorch."""
    y = x @ weight.mT
    return y if bias is None else y + bias


def where(condition, a, b) -> Tensor:
    """a where ``condition`` else b (either may be a Python number)."""
    condition = condition.data if isinstance(condition, Tensor) else condition
    like = a if isinstance(a, Tensor) else b
    a = a if isinstance(a, (Tensor, int, float)) else _as_tensor(like, a)
    b = b if isinstance(b, (Tensor, int, float)) else _as_tensor(like, b)
    return Where(condition).apply(a, b)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing axis ``dim``."""
    return Concat(dim).apply(*tensors)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis ``dim``."""
    return Stack(dim).apply(*tensors)


def pad(x: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding; ``pad`` lists (before, after) pairs from the *last* axis backwards,
    as ``torch.nn.functional.pad``: (left, right, top, bottom, ...)."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise OpError(f"pad: {len(pad)} values do not form (before, after) pairs for a tensor of "
                      f"shape {tuple(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad(tuple(widths), value).apply(x)


def embedding(indices, weight: Tensor) -> Tensor:
    """Rows of ``weight`` picked by integer ``indices`` (any shape); the gradient of a row
    used several times is the sum of its uses (scatter-add)."""
    index = indices.data if isinstance(indices, Tensor) else indices
    if not hasattr(index, "dtype"):
        index = backend_for(weight.data).asarray(index, device=weight.device)
    if index.dtype.kind not in "iu":
        raise OpError(f"embedding: indices must be integers, got {index.dtype}")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= weight.shape[0]):
        raise OpError(f"embedding: indices must lie in [0, {weight.shape[0]}), got values from "
                      f"{int(index.min())} to {int(index.max())}")
    return weight[index]


def one_hot(indices, num_classes: int = -1) -> Tensor:
    """int64 tensor with a 1 at each index along a new last axis."""
    index = indices.data if isinstance(indices, Tensor) else indices
    xp = backend_for(index).xp if hasattr(index, "dtype") else None
    if xp is None:
        index = backend_for_list(index)
        xp = backend_for(index).xp
    if num_classes < 0:
        num_classes = int(index.max()) + 1 if index.size else 0
    if index.size and (int(index.min()) < 0 or int(index.max()) >= num_classes):
        raise OpError(f"one_hot: indices must lie in [0, {num_classes}), got values from "
                      f"{int(index.min())} to {int(index.max())}")
    return Tensor._make(xp.eye(num_classes, dtype=xp.int64)[index])


def backend_for_list(values):
    from .backends import numpy_backend
    return numpy_backend().asarray(values)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p),
    so eval mode is the identity. The mask comes from the seeded generator (tg.manual_seed)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    backend = backend_for(x.data)
    keep = backend.random(x.device).random(x.shape) >= p
    return x * Tensor._make((keep / (1.0 - p)).astype(x.dtype))


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_entropy(logits: Tensor, target, ignore_index: int = -100,
                  reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target], from class-index targets.

    ``logits`` is (N, C) with ``target`` (N,), or (N, C, d1, ...) with target (N, d1, ...),
    or (C,) with a scalar target. Targets equal to ``ignore_index`` count for nothing; the
    mean is over the others (PyTorch's rule).
    """
    return _nll(log_softmax(logits, dim=1 if logits.ndim > 1 else 0), target, ignore_index,
                reduction, "cross_entropy")


def nll_loss(log_probs: Tensor, target, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-log_probs[target]: cross_entropy's second half, for inputs already log_softmax'ed."""
    return _nll(log_probs, target, ignore_index, reduction, "nll_loss")


def _nll(logits: Tensor, target, ignore_index: int, reduction: str, op: str) -> Tensor:
    target_data = target.data if isinstance(target, Tensor) else target
    if not hasattr(target_data, "dtype"):
        target_data = backend_for(logits.data).asarray(target_data, device=logits.device)
    if target_data.dtype.kind not in "iu":
        raise OpError(f"{op}: target must hold class indices (integers), got "
                      f"{target_data.dtype}")
    target_shape = tuple(target_data.shape)     # reduction="none" gives one loss per target
    if logits.ndim == 1:
        logits, target_data = logits.unsqueeze(0), target_data.reshape(1)
    if logits.ndim > 2:   # (N, C, d1, ...) -> (N * d1 * ..., C)
        classes = logits.shape[1]
        dims = (0,) + tuple(range(2, logits.ndim)) + (1,)
        logits = logits.permute(*dims).reshape(-1, classes)
        target_data = target_data.reshape(-1)
    if target_data.shape != (logits.shape[0],):
        raise OpError(f"{op}: logits of shape {tuple(logits.shape)} need a target of "
                      f"shape ({logits.shape[0]},), got {tuple(target_data.shape)}")
    xp = backend_for(logits.data).xp
    keep = target_data != ignore_index
    safe_target = xp.where(keep, target_data, 0)
    classes = logits.shape[1]
    if safe_target.size and (int(safe_target.min()) < 0 or int(safe_target.max()) >= classes):
        raise OpError(f"{op}: target values must lie in [0, {classes}) or equal "
                      f"ignore_index={ignore_index}; got values from {int(target_data.min())} "
                      f"to {int(target_data.max())}")
    picked = logits[xp.arange(logits.shape[0]), safe_target]
    losses = -picked * Tensor._make(keep.astype(logits.dtype))
    if reduction == "mean":
        return losses.sum() / max(int(keep.sum()), 1)
    if reduction == "none":   # in the target's shape, as PyTorch: (N, d1, ...), or () for (C,)
        return losses.reshape(target_shape)
    return _reduce(losses, reduction, op)


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """-[y log sigma(x) + (1 - y) log(1 - sigma(x))] = softplus(x) - x y, stable for any x."""
    target = _as_tensor(logits, target)
    if target.shape != logits.shape:
        raise OpError(f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} "
                      f"differs from logits shape {tuple(logits.shape)}")
    return _reduce(softplus(logits) - logits * target, reduction, "binary_cross_entropy_with_logits")


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """(prediction - target)^2, averaged (or summed)."""
    target = _as_tensor(prediction, target)
    if target.shape != prediction.shape:
        raise OpError(f"mse_loss: target shape {tuple(target.shape)} differs from prediction "
                      f"shape {tuple(prediction.shape)}")
    diff = prediction - target
    return _reduce(diff * diff, reduction, "mse_loss")
