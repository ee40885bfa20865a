"""Grad mode: whether ops are recorded on the tape (PyTorch's no_grad / enable_grad).

``no_grad()`` and ``enable_grad()`` switch the mode inside a ``with`` block or a decorated
function; ``set_grad_enabled(mode)`` switches it at once (``tg.set_grad_enabled(False)`` as a
plain call), and also works as a context manager or decorator that restores the mode after.
A decorated generator function runs in the mode each time it resumes, as torch.
"""
from __future__ import annotations

import functools
import inspect

from .state import STATE


class _GradMode:
    """Context manager and decorator that sets the recording mode inside it."""
    mode = True

    def __enter__(self):
        self.previous = STATE.grad_enabled
        STATE.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self.previous
        return False

    def _fresh(self) -> "_GradMode":
        """A new manager of the same mode (a decorated function may run reentrantly)."""
        manager = _GradMode.__new__(_GradMode)
        manager.mode = self.mode
        return manager

    def __call__(self, function):
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return function(*args, **kwargs)
        return wrapper

    def _wrap_generator(self, function):
        @functools.wraps(function)
        def generator(*args, **kwargs):
            inner = function(*args, **kwargs)
            try:
                with self._fresh():
                    request = inner.send(None)
                while True:
                    try:
                        answer = yield request
                    except GeneratorExit:
                        with self._fresh():
                            inner.close()
                        raise
                    except BaseException as error:
                        with self._fresh():
                            request = inner.throw(error)
                    else:
                        with self._fresh():
                            request = inner.send(answer)
            except StopIteration as stop:
                return stop.value
        return generator


class _NoArgumentMode(_GradMode):
    """``@no_grad()`` and, as torch 2 allows, ``@no_grad`` without the call."""

    def __new__(cls, function=None):
        manager = super().__new__(cls)
        return manager if function is None else manager(function)


class no_grad(_NoArgumentMode):
    """Nothing inside is recorded: for evaluation, sampling and optimizer updates."""
    mode = False


class enable_grad(_NoArgumentMode):
    """Recording back on, e.g. inside a no_grad region."""
    mode = True


class set_grad_enabled(_GradMode):
    """Switch recording on or off now; as a context manager (or decorator) the previous mode
    comes back at its end."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.previous = STATE.grad_enabled
        STATE.grad_enabled = self.mode       # takes effect at the call, as torch

    def __enter__(self):
        return self

    def __call__(self, function):
        STATE.grad_enabled = self.previous   # as a decorator: only inside the function
        return super().__call__(function)


class inference_mode(_GradMode):
    """torch's ``inference_mode``: here the same as ``no_grad`` (nothing recorded inside);
    ``inference_mode(False)`` leaves recording as it is."""

    def __init__(self, mode: bool = True):
        self.enabled = bool(mode)

    @property
    def mode(self) -> bool:
        return False if self.enabled else STATE.grad_enabled

    def _fresh(self) -> "inference_mode":
        return inference_mode(self.enabled)


def is_grad_enabled() -> bool:
    return STATE.grad_enabled
