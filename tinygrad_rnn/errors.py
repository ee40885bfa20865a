"""Error types and the helpers that describe tensors inside error messages."""
from __future__ import annotations


class OpError(ValueError):
    """An op was given inputs it cannot work on (shapes, dtypes, devices)."""


class BackwardError(RuntimeError):
    """Backward cannot run: freed graph, in-place change, missing gradient."""


class AnomalyError(FloatingPointError):
    """detect_anomaly() found a NaN or Inf."""


def describe(value) -> str:
    """A short description of an op input: ``(3, 4) float32 cpu`` or a scalar's repr."""
    data = getattr(value, "data", None)
    if data is None or not hasattr(data, "shape"):
        return repr(value)
    return f"{tuple(data.shape)} {data.dtype} {value.device}"
