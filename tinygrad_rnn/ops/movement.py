"""Moving a tensor between devices or dtypes; gradients move back the same way."""
from __future__ import annotations

from ..backends import backend_for, backend_for_device
from ..function import Function


class ToDevice(Function):
    """y = x copied to ``device``.   gx = gy copied back to x's device."""
    __slots__ = ("device",)
    name, formula, saves_inputs = "to_device", "gx = gy.to(x.device)", False

    def __init__(self, device: str):
        self.device = device

    def extra_repr(self) -> str:
        return f"device={self.device}"

    def forward(self, x):
        target = backend_for_device(self.device)
        if backend_for(x) is not target:
            x = backend_for(x).to_numpy(x)
        return target.asarray(x, device=self.device)

    def backward(self, gy, y):
        return (gy.to(self.edges[0].device),)

    def jvp(self, tangents, y):
        """ty = tx copied to ``device``."""
        return ToDevice(self.device).apply(tangents[0])


class Cast(Function):
    """y = x in another dtype.   gx = gy cast back to x's dtype."""
    __slots__ = ("dtype",)
    name, formula, saves_inputs = "cast", "gx = gy.to(x.dtype)", False

    def __init__(self, dtype):
        self.dtype = dtype

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}"

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy, y):
        x = self.edges[0]
        return (gy.to(str(x.dtype)) if x.dtype.kind in "fc" else None,)

    def jvp(self, tangents, y):
        """ty = tx cast to ``dtype`` (the output has no tangent if it is not floating point)."""
        return Cast(self.dtype).apply(tangents[0])
