"""Devices and dtypes: which backend a new tensor lives on, and in what precision.

The default device is ``"cpu"`` unless ``tg.set_default_device(...)`` or the
environment variable ``TINYGRAD_RNN_DEVICE`` says otherwise.
"""
from __future__ import annotations

import os

from .backends import backend_for, parse_device

_DEFAULT_DEVICE: list[str | None] = [None]

# PyTorch's defaults: Python floats become float32, ints int64.
float32, float64, float16 = "float32", "float64", "float16"
int32, int64, bool_ = "int32", "int64", "bool"


def get_default_device() -> str:
    if _DEFAULT_DEVICE[0] is None:
        _DEFAULT_DEVICE[0] = normalize_device(os.environ.get("TINYGRAD_RNN_DEVICE", "cpu"))
    return _DEFAULT_DEVICE[0]


def set_default_device(device: str) -> None:
    """Where tensors are created when no ``device=`` is given."""
    _DEFAULT_DEVICE[0] = normalize_device(device)


def normalize_device(device) -> str:
    kind, index = parse_device(device)
    return "cpu" if kind == "cpu" else f"cuda:{index}"


def is_device(value) -> bool:
    try:
        parse_device(value)
        return True
    except ValueError:
        return False


def target_device(data, device) -> str:
    """The device a new tensor goes to: ``device`` if given, else the GPU a cupy array is
    already on, else the default device (lists and NumPy arrays included, as PyTorch)."""
    if device is not None:
        return normalize_device(device)
    if hasattr(data, "__cuda_array_interface__"):
        return backend_for(data).device_of(data)
    return get_default_device()


def resolve_dtype(data, dtype, backend):
    """The dtype for new data: ``dtype`` if given; float32 for Python floats and lists of
    them (PyTorch's default); otherwise whatever the array library infers."""
    if dtype is not None:
        return backend.xp.dtype(dtype)
    if hasattr(data, "dtype"):
        return None
    if isinstance(data, bool):
        return None
    if isinstance(data, float) or _holds_float(data):
        return backend.xp.float32
    return None


def _holds_float(data) -> bool:
    while isinstance(data, (list, tuple)) and data:
        if any(isinstance(item, float) for item in data):
            return True
        data = data[0]
    return isinstance(data, float)
