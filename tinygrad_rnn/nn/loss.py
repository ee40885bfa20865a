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
    def __init__(self, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.ignore_index = ignore_index


class CrossEntropyLoss(_ClassIndexLoss):
    """-log softmax(logits)[target], averaged over targets other than ``ignore_index``."""

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.ignore_index, self.reduction)


class NLLLoss(_ClassIndexLoss):
    """-log_probs[target] (the input is already log_softmax), averaged like CrossEntropyLoss."""

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """(prediction - target)^2, averaged (or summed)."""

    def forward(self, prediction, target):
        return F.mse_loss(prediction, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """softplus(x) - x y: binary cross-entropy on logits, stable for any x."""

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)
