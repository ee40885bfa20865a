"""LayerNorm: normalise each example over its last dimensions."""
from __future__ import annotations

from .. import creation
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta, the mean and the (biased)
    variance taken over the last ``len(normalized_shape)`` dimensions (Ba et al., 2016)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        if elementwise_affine:
            self.weight = Parameter(creation.ones(shape, device=device, dtype=dtype))
            self.bias = Parameter(creation.zeros(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if tuple(x.shape[-len(self.normalized_shape):]) != self.normalized_shape:
            from ..errors import OpError
            raise OpError(f"LayerNorm{self.normalized_shape}: input shape {tuple(x.shape)} does "
                          f"not end with {self.normalized_shape}")
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        centered = x - x.mean(axis=axes, keepdims=True)
        variance = (centered * centered).mean(axis=axes, keepdims=True)
        y = centered / (variance + self.eps).sqrt()
        return y if self.weight is None else y * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
