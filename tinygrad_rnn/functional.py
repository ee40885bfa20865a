"""Neural-network functions (``import tinygrad_rnn.functional as F``), PyTorch's names.

Each is either one primitive op or a short composition of them, so its gradient
comes from the ops' VJPs.
"""
from __future__ import annotations

import math
from typing import Sequence

from .backends import backend_for
from .errors import OpError
from .ops.elementwise import Gelu, Softplus, Where
from .ops.linear import Linear
from .ops.cross_entropy import CrossEntropy
from .ops.nll import NllLoss
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


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return Where(_positive(x)).apply(x, x * negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    return Where(_positive(x)).apply(x, x.expm1() * alpha)


def _positive(x: Tensor):
    return backend_for(x.data).xp.asarray(x.data > 0)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF: exactly 0.5 x (1 + erf(x / sqrt 2)) (torch's
    default), or with approximate="tanh" 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "none":
        return Gelu().apply(x)
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """x sigma(x) (also called swish)."""
    return x * x.sigmoid()


def logsigmoid(x: Tensor) -> Tensor:
    """log sigma(x) = -softplus(-x), stable for any x."""
    return -softplus(-x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return Softmax(dim).apply(x)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return LogSoftmax(dim).apply(x)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as PyTorch: one tape entry
    (ops/linear.py); a bias of another shape that broadcasts (torch allows (1,), (), (N, out))
    is added after it."""
    if bias is None:
        return Linear().apply(x, weight)
    if tuple(bias.shape) == tuple(weight.shape[:1]):
        return Linear().apply(x, weight, bias)
    return Linear().apply(x, weight) + bias


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


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    _check_reduction(reduction, op)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """-log softmax(logits)[target], from class-index targets, or -sum_c p_c log softmax_c
    from probability targets (a float target of the logits' shape).

    ``logits`` is (N, C) with ``target`` (N,), or (N, C, d1, ...) with target (N, d1, ...),
    or (C,) with a scalar target. Targets equal to ``ignore_index`` count for nothing; the
    mean is over the others, each counted with its class ``weight`` (PyTorch's rule).
    ``label_smoothing`` eps mixes the target with the uniform distribution:
    (1 - eps) * loss + eps * mean_c(-w_c log softmax_c).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target_data = target.data if isinstance(target, Tensor) else target
    if getattr(target_data, "dtype", None) is not None and target_data.dtype.kind == "f":
        return _soft_cross_entropy(logits, _as_tensor(logits, target), weight, reduction,
                                   label_smoothing)
    return _class_cross_entropy(logits, target_data, weight, ignore_index, reduction,
                                label_smoothing)


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C); (N, C) unchanged."""
    if x.ndim == 1:
        return x.unsqueeze(0)
    if x.ndim > 2:
        dims = (0,) + tuple(range(2, x.ndim)) + (1,)
        return x.permute(*dims).reshape(-1, x.shape[1])
    return x


def _class_weights(weight, logits: Tensor):
    if weight is None:
        return None
    weight = _as_tensor(logits, weight)
    classes = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    if weight.shape != (classes,):
        raise OpError(f"cross_entropy: weight must have shape ({classes},), one per class; got "
                      f"{tuple(weight.shape)}")
    return weight


def _soft_cross_entropy(logits, target, weight, reduction, label_smoothing):
    if target.shape != logits.shape:
        raise OpError(f"cross_entropy: a float target holds class probabilities and must have "
                      f"the logits' shape {tuple(logits.shape)}, got {tuple(target.shape)}; "
                      "class indices must be integers")
    weight = _class_weights(weight, logits)
    classes = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    log_probs = _classes_last(log_softmax(logits, dim=1 if logits.ndim > 1 else 0))
    probs = _classes_last(target)
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / classes
    terms = -(log_probs * probs)
    if weight is not None:
        terms = terms * weight
    losses = terms.sum(axis=1)
    if reduction == "none":
        shape = (logits.shape[0],) + tuple(logits.shape[2:]) if logits.ndim > 1 else ()
        return losses.reshape(shape)
    return _reduce(losses, reduction, "cross_entropy")


def _class_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing):
    if logits.ndim == 2 and not label_smoothing and not (weight is not None and getattr(
            weight, "requires_grad", False)):
        # the common case, one entry (torch's graph has two: LogSoftmax, NllLoss)
        return _nll(logits, target, weight, ignore_index, reduction, "cross_entropy",
                    CrossEntropy)
    log_probs = log_softmax(logits, dim=1 if logits.ndim > 1 else 0)
    loss = _nll(log_probs, target, weight, ignore_index, reduction, "cross_entropy")
    if not label_smoothing:
        return loss
    # torch's rule: (1 - eps) * nll + eps / C * sum_c(-w_c log p_c), reduced like nll
    flat = _classes_last(log_probs)
    weight = _class_weights(weight, logits)
    smooth = -(flat if weight is None else flat * weight).sum(axis=1)
    _, mask, kept, target_shape = _kept(flat, target, weight, ignore_index, "cross_entropy")
    smooth = _nll_reduce(smooth, mask, kept, target_shape, reduction, "cross_entropy")
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / flat.shape[1])


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


def nll_loss(log_probs: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w[target] log_probs[target] (log_probs from log_softmax): cross_entropy without the
    softmax. Shapes as cross_entropy; the mean divides by the kept targets' total weight."""
    return _nll(log_probs, target, weight, ignore_index, reduction, "nll_loss")


def _nll(log_probs, target, weight, ignore_index, reduction, op, entry=NllLoss):
    """nll_loss's checks and entry; ``entry=CrossEntropy`` takes (N, C) logits instead of
    log-probabilities (its callers keep a learnt class weight off that path)."""
    flat = _classes_last(log_probs)
    weight = _class_weights(weight, log_probs)
    _check_reduction(reduction, op)      # before the work: NllLoss takes it on trust
    picked, _, kept, target_shape = _kept(flat, target, weight, ignore_index, op)
    if weight is not None and weight.requires_grad:   # a learnt class weight: composed ops
        losses = -flat[backend_for(flat.data).xp.arange(flat.shape[0]), picked]
        return _nll_reduce(losses, kept, kept, target_shape, reduction, op)
    losses = entry(picked, kept.data, reduction).apply(flat)
    return losses.reshape(target_shape) if reduction == "none" else losses


def _kept(flat: Tensor, target, weight, ignore_index: int, op: str):
    """The class each row picks (0 for ignored rows), the 0/1 mask of the rows kept, each
    row's weight (0 when ignored) and the target's shape."""
    target_data = target.data if isinstance(target, Tensor) else target
    if not hasattr(target_data, "dtype"):
        target_data = backend_for(flat.data).asarray(target_data, device=flat.device)
    if target_data.dtype.kind not in "iu":
        raise OpError(f"{op}: target must hold class indices (integers), got {target_data.dtype}")
    target_shape = tuple(target_data.shape)     # reduction="none" gives one loss per target
    target_flat = target_data.reshape(-1)
    if target_flat.shape != (flat.shape[0],):
        raise OpError(f"{op}: an input of {flat.shape[0]} rows of {flat.shape[1]} classes needs "
                      f"{flat.shape[0]} targets, got shape {target_shape}")
    xp = backend_for(flat.data).xp
    keep = target_flat != ignore_index
    picked = xp.where(keep, target_flat, 0)
    classes = flat.shape[1]
    if picked.size and (int(picked.min()) < 0 or int(picked.max()) >= classes):
        raise OpError(f"{op}: target values must lie in [0, {classes}) or equal "
                      f"ignore_index={ignore_index}; got values from {int(target_flat.min())} "
                      f"to {int(target_flat.max())}")
    mask = Tensor._make(keep.astype(flat.dtype))
    kept = mask if weight is None else mask * weight[picked]   # each counts with its weight
    return picked, mask, kept, target_shape


def _nll_reduce(losses, scale, kept, target_shape, reduction, op):
    """losses * scale, reduced; the mean divides by the kept rows' total weight (NaN when
    every target is ignored, as torch)."""
    losses = losses * scale
    if reduction == "mean":
        total = losses.sum()
        return total / kept.sum() if kept.data.sum() else total * float("nan")
    if reduction == "none":   # in the target's shape, as PyTorch: (N, d1, ...), or () for (C,)
        return losses.reshape(target_shape)
    return _reduce(losses, reduction, op)


def _same_shape(op: str, prediction: Tensor, target) -> Tensor:
    target = _as_tensor(prediction, target)
    if target.shape != prediction.shape:
        raise OpError(f"{op}: target shape {tuple(target.shape)} differs from prediction "
                      f"shape {tuple(prediction.shape)}")
    return target


def l1_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """|prediction - target|, averaged (or summed)."""
    target = _same_shape("l1_loss", prediction, target)
    return _reduce((prediction - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(prediction: Tensor, target, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = prediction - target)."""
    target = _same_shape("smooth_l1_loss", prediction, target)
    diff = prediction - target
    if beta == 0:
        return _reduce(diff.abs(), reduction, "smooth_l1_loss")
    near = backend_for(diff.data).xp.asarray(abs(diff.data) < beta)
    losses = Where(near).apply(diff * diff * (0.5 / beta), diff.abs() - 0.5 * beta)
    return _reduce(losses, reduction, "smooth_l1_loss")


def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) axes (biased var),
    then * weight + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise OpError(f"layer_norm: normalized_shape {shape} does not match the last dims of "
                      f"input shape {tuple(x.shape)}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axes, keepdim=True)
    out = centered / ((centered * centered).mean(axes, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p over dim, eps)."""
    return x / x.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) over ``dim`` (inputs broadcast)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
