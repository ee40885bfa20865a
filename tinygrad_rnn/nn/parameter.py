"""Parameter: a leaf Tensor that a Module owns and an optimizer updates."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor registered as a learnable weight of a Module (requires grad by default)."""
    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=False, name=name)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
