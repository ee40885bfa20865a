"""Activations as modules, for Sequential."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    """y = 1 / (1 + e^-x)."""

    def forward(self, x):
        return x.sigmoid()


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x):
        return x.relu()


class Softmax(Module):
    """y = softmax(x) along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)
