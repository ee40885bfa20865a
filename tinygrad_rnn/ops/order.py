"""Ops that move or accumulate values along an axis: flip, roll and cumsum. Each VJP runs the
same kind of op backwards: flip again, roll by -shift, cumulative sum from the end."""
from __future__ import annotations

from ..function import Function
from . import xp_of


class Flip(Function):
    """y = x reversed along ``dims``.   gx = gy reversed along ``dims``."""
    __slots__ = ("dims",)
    name, formula, saves_inputs = "flip", "gx = flip(gy, dims)", False
    may_view = True

    def __init__(self, dims: tuple):
        self.dims = dims

    def extra_repr(self) -> str:
        return f"dims={self.dims}"

    def forward(self, x):
        return xp_of(x).flip(x, axis=self.dims)

    def backward(self, gy, y):
        return (Flip(self.dims).apply(gy),)

    def jvp(self, tangents, y):
        """ty = flip(tx, dims)."""
        return Flip(self.dims).apply(tangents[0])


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``dims`` (all axes flattened when dims is
    None, as torch).   gx = gy rolled by -shifts."""
    __slots__ = ("shifts", "dims")
    name, formula, saves_inputs = "roll", "gx = roll(gy, -shifts, dims)", False

    def __init__(self, shifts, dims=None):
        self.shifts, self.dims = shifts, dims

    def extra_repr(self) -> str:
        return f"shifts={self.shifts}, dims={self.dims}"

    def forward(self, x):
        return xp_of(x).roll(x, self.shifts, axis=self.dims)

    def backward(self, gy, y):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (Roll(back, self.dims).apply(gy),)

    def jvp(self, tangents, y):
        """ty = roll(tx, shifts, dims)."""
        return Roll(self.shifts, self.dims).apply(tangents[0])


class Cumsum(Function):
    """y_i = sum_{j <= i} x_j along ``dim``.   gx_j = sum_{i >= j} gy_i = flip(cumsum(flip(gy)))."""
    __slots__ = ("dim",)
    name, formula, saves_inputs = "cumsum", "gx = flip(cumsum(flip(gy)))", False

    def __init__(self, dim: int):
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, x):
        return xp_of(x).cumsum(x, axis=self.dim)

    def backward(self, gy, y):
        return (Flip((self.dim,)).apply(Cumsum(self.dim).apply(Flip((self.dim,)).apply(gy))),)

    def jvp(self, tangents, y):
        """ty = cumsum(tx)."""
        return Cumsum(self.dim).apply(tangents[0])
