"""Linear: y = x W^T + b."""
from __future__ import annotations

import math

from .. import creation
from ..functional import linear
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features); W and b start in
    U(-1/sqrt(in), 1/sqrt(in)) as PyTorch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise TypeError(f"Linear: {name} must be an int, got {type(value).__name__} {value!r}")
            if value < 0:                    # PyTorch's words and exception type
                raise RuntimeError(f"Linear: Trying to create tensor with negative dimension "
                                   f"{value} ({name} = {value})")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(init.uniform_(
            creation.zeros(out_features, in_features, device=device, dtype=dtype), -bound, bound))
        if bias:
            self.bias = Parameter(init.uniform_(
                creation.zeros(out_features, device=device, dtype=dtype), -bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            from ..errors import OpError
            raise OpError(f"Linear({self.in_features}, {self.out_features}): input's last "
                          f"dimension is {x.shape[-1]}, expected {self.in_features} "
                          f"(input shape {tuple(x.shape)})")
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
