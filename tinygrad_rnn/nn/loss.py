"""Losses as modules (torch's ``nn.CrossEntropyLoss`` etc.): each holds its settings and calls
the function in ``tinygrad_rnn.functional``."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Loss(Module):
    """``reduction``: "mean", "sum" or "none"; ``ignore_index`` for class-index targets."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction


class _ClassIndexLoss(_Loss):
    """``weight``: one factor per class (the mean divides by the kept targets' total weight)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index


class CrossEntropyLoss(_ClassIndexLoss):
    """-log softmax(logits)[target], averaged over targets other than ``ignore_index``;
    ``label_smoothing`` mixes the target with the uniform distribution."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = label_smoothing

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_ClassIndexLoss):
    """-log_probs[target] (the input is already log_softmax), averaged like CrossEntropyLoss."""

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """(prediction - target)^2, averaged (or summed)."""

    def forward(self, prediction, target):
        return F.mse_loss(prediction, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """softplus(x) - x y: binary cross-entropy on logits, stable for any x."""

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, reduction=self.reduction)
