"""The interface every array backend implements.

A backend exposes ``xp``, an array module with NumPy's API (``numpy`` itself,
or ``cupy``), and the handful of operations where libraries differ.
"""
from __future__ import annotations

import contextlib


class BackendUnavailable(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def parse_device(device) -> tuple[str, int]:
    """``"cpu"`` -> ("cpu", 0); ``"cuda"`` -> ("cuda", 0); ``"cuda:1"`` -> ("cuda", 1)."""
    text = str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if kind == "cpu" and index not in ("", "0"):
        raise ValueError(f"unknown device {device!r}: the CPU has no index")
    return kind, int(index or 0)


class Backend:
    """What the core needs from an array library."""

    name: str          # "numpy" or "cupy"
    xp: object         # the array module
    array_type: type   # the library's ndarray class

    def device_of(self, array) -> str:
        """The device string of an array, e.g. ``"cpu"`` or ``"cuda:0"``."""
        raise NotImplementedError

    def asarray(self, data, dtype=None, device: str = "cpu", copy: bool = False):
        """An array of this backend on ``device`` (copying only when needed, or always with
        ``copy=True``)."""
        raise NotImplementedError

    def to_numpy(self, array):
        """A host (NumPy) copy or view of ``array``."""
        raise NotImplementedError

    def scatter_add(self, target, index, values) -> None:
        """``target[index] += values`` with repeated indices accumulated (unbuffered)."""
        raise NotImplementedError

    def erf(self, array):
        """The error function elementwise (NumPy has none; exact gelu needs it)."""
        raise NotImplementedError

    def random(self, device: str):
        """This device's random generator (seeded by :meth:`manual_seed`)."""
        raise NotImplementedError

    def manual_seed(self, seed: int) -> None:
        raise NotImplementedError

    def rng_state(self):
        """The generator's state as plain data (dicts, ints, strings), for checkpoints."""
        raise NotImplementedError(f"the {self.name} backend cannot save its generator's state")

    def set_rng_state(self, state) -> None:
        """Put back a state returned by :meth:`rng_state`."""
        raise NotImplementedError(f"the {self.name} backend cannot restore its generator's state")

    def synchronize(self, device: str) -> None:
        """Wait until queued work on ``device`` is done (for timing)."""

    def default_float(self):
        return self.xp.float32

    def stand_in(self, array):
        """A read-only array of ``array``'s shape, dtype and device that holds no memory: one
        zero seen through zero strides (what a freed graph edge keeps, edges.py)."""
        device = getattr(array, "device", None)   # CuPy: the array's own GPU, not the current
        with device if hasattr(device, "__enter__") else contextlib.nullcontext():
            zero = self.xp.zeros((), dtype=array.dtype)
        return self.xp.broadcast_to(zero, array.shape)

    def kernel(self, name: str):
        """A library-specific kernel registered under ``name`` (e.g. CuPy's ElementwiseKernels
        for the recurrent cells' pointwise math), or None: callers then use plain ``xp`` code."""
        return None
