"""Grad mode: whether ops are recorded on the tape (PyTorch's no_grad / enable_grad)."""
from __future__ import annotations

import functools

from .state import STATE


class set_grad_enabled:
    """Context manager (and decorator) that turns recording on or off inside it."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.previous = STATE.grad_enabled
        STATE.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self.previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self.__class__(self.mode) if type(self) is set_grad_enabled else self.__class__():
                return function(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """Nothing inside is recorded: for evaluation, sampling and optimizer updates."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Recording back on, e.g. inside a no_grad region."""

    def __init__(self):
        super().__init__(True)


class inference_mode(set_grad_enabled):
    """torch's ``inference_mode``: here the same as ``no_grad`` (nothing recorded inside);
    ``inference_mode(False)`` leaves recording as it is."""

    def __init__(self, mode: bool = True):
        super().__init__(False)
        self.enabled = bool(mode)

    def __enter__(self):
        self.previous = STATE.grad_enabled
        if self.enabled:
            STATE.grad_enabled = False
        return self


def is_grad_enabled() -> bool:
    return STATE.grad_enabled
