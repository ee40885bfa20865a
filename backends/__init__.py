"""Array backends: the only place in tinygrad_rnn that imports numpy or cupy.

The core asks this package for three things:

* ``backend_for(array)``: the backend that owns an array (NumPy or CuPy);
* ``backend_for_device(device)``: the backend for a device string such as
  ``"cpu"``, ``"cuda"`` or ``"cuda:1"``;
* ``numpy_backend()``: the always-available CPU backend.

A backend is a small object (see :class:`backends.base.Backend`) wrapping an
array module that mirrors NumPy's API, plus the few things that differ
between libraries (scatter-add, random generators, device placement,
synchronisation).
"""
from __future__ import annotations

from .base import Backend, BackendUnavailable, parse_device
from .numpy_backend import NumpyBackend

_NUMPY = NumpyBackend()
_BY_ARRAY_TYPE: dict[type, Backend] = {_NUMPY.array_type: _NUMPY}

# NumPy reductions and 0-d arithmetic return scalars (numpy.float32, ...), not 0-d arrays;
# tensors always hold arrays, so these types map to the function that makes one.
SCALAR_TO_ARRAY: dict[type, object] = {t: _NUMPY.xp.asarray for t in _NUMPY.scalar_types}
_CUPY: Backend | None = None


def numpy_backend() -> Backend:
    return _NUMPY


_SEED = [0]


def cupy_backend() -> Backend:
    """The CuPy backend; raises BackendUnavailable saying what is missing."""
    global _CUPY
    if _CUPY is None:
        from .cupy_backend import CupyBackend  # imported lazily: cupy is optional
        _CUPY = CupyBackend()
        _CUPY.manual_seed(_SEED[0])
        _BY_ARRAY_TYPE[_CUPY.array_type] = _CUPY
    return _CUPY


def manual_seed(seed: int) -> None:
    """Seed every backend: NumPy now, CuPy now if loaded, else when it is first used."""
    _SEED[0] = seed
    _NUMPY.manual_seed(seed)
    if _CUPY is not None:
        _CUPY.manual_seed(seed)


def get_rng_state() -> dict:
    """Every loaded backend's generator state, as plain data a checkpoint can hold
    (``{"numpy": {...}}``); with :func:`set_rng_state` a resumed run draws the same numbers."""
    state = {"seed": _SEED[0], "numpy": _NUMPY.rng_state()}
    if _CUPY is not None:
        try:
            state["cupy"] = _CUPY.rng_state()
        except NotImplementedError:      # CuPy's generators keep their state on the GPU
            pass
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned."""
    if not isinstance(state, dict) or "numpy" not in state:
        raise ValueError("set_rng_state: expected the dict get_rng_state() returns, got "
                         f"{type(state).__name__}")
    manual_seed(int(state.get("seed", 0)))
    _NUMPY.set_rng_state(state["numpy"])
    if "cupy" in state:
        cupy_backend().set_rng_state(state["cupy"])


def backend_for(array) -> Backend:
    """The backend owning ``array`` (a numpy or cupy ndarray)."""
    try:
        return _BY_ARRAY_TYPE[type(array)]
    except KeyError:
        if type(array).__module__.startswith("cupy"):
            return cupy_backend()
        raise TypeError(f"no backend holds arrays of type {type(array).__name__}") from None


def backend_for_device(device: str) -> Backend:
    kind, _ = parse_device(device)
    return _NUMPY if kind == "cpu" else cupy_backend()


def cuda_available() -> bool:
    """True when CuPy imports and at least one GPU is usable."""
    try:
        cupy_backend()
        return True
    except BackendUnavailable:
        return False


__all__ = ["Backend", "BackendUnavailable", "parse_device", "numpy_backend", "cupy_backend",
           "backend_for", "backend_for_device", "cuda_available", "manual_seed", "get_rng_state",
           "set_rng_state", "SCALAR_TO_ARRAY"]
