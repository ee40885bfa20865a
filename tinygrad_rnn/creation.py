"""Tensor factories (PyTorch's names): zeros, ones, full, arange, eye, randn, rand, the
``*_like`` forms and ``from_numpy``; ``manual_seed`` makes the random ones repeatable on every
device. Each but from_numpy takes ``name=`` (shown by ``tg.tape`` and the drawings), as
``Tensor(..., name=)`` does."""
from __future__ import annotations

from .backends import backend_for, backend_for_device, manual_seed as _seed_backends
from .device import target_device
from .tensor import Tensor, _shape_arg


def _new(make, shape, dtype, device, requires_grad, name=None) -> Tensor:
    device = target_device(None, device)
    backend = backend_for_device(device)
    dtype = backend.xp.dtype(dtype) if dtype is not None else backend.xp.float32
    data = make(backend, tuple(int(s) for s in shape), dtype, device)
    out = Tensor._make(data)
    out.name = name
    if requires_grad:
        out.requires_grad_(True)
    return out


def _place(backend, array, device):
    return backend.asarray(array, device=device)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False,
          name: str | None = None) -> Tensor:
    return _new(lambda b, s, d, dev: _place(b, b.xp.zeros(s, dtype=d), dev),
                _shape_arg(shape), dtype, device, requires_grad, name)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False,
         name: str | None = None) -> Tensor:
    return _new(lambda b, s, d, dev: _place(b, b.xp.ones(s, dtype=d), dev),
                _shape_arg(shape), dtype, device, requires_grad, name)


def full(shape, fill_value, dtype=None, device=None, requires_grad: bool = False,
         name: str | None = None) -> Tensor:
    return _new(lambda b, s, d, dev: _place(b, b.xp.full(s, fill_value, dtype=d), dev),
                _shape_arg((shape,)), dtype, device, requires_grad, name)


def eye(n: int, m: int | None = None, dtype=None, device=None,
        requires_grad: bool = False, name: str | None = None) -> Tensor:
    return _new(lambda b, s, d, dev: _place(b, b.xp.eye(n, m, dtype=d), dev),
                (), dtype, device, requires_grad, name)


def arange(start, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Like PyTorch: integers give int64, any float argument gives float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) for v in (start, end, step)) else "int64"
    return _new(lambda b, s, d, dev: _place(b, b.xp.arange(start, end, step, dtype=d), dev),
                (), dtype, device, requires_grad, name)


def _sampled(draw):
    """Generators draw float32 or float64 only; other float dtypes (float16) are drawn in
    float32 and rounded, as PyTorch's half-precision randn gives the same distribution."""
    def make(backend, shape, dtype, device):
        dtype = backend.xp.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"random sampling needs a floating dtype, got {dtype}")
        if dtype in (backend.xp.float32, backend.xp.float64):
            return draw(backend.random(device), shape, dtype)
        return draw(backend.random(device), shape, backend.xp.float32).astype(dtype)
    return make


def randn(*shape, dtype=None, device=None, requires_grad: bool = False,
          name: str | None = None) -> Tensor:
    """Standard normal samples from the device's seeded generator."""
    return _new(_sampled(lambda g, s, d: g.standard_normal(s, dtype=d)),
                _shape_arg(shape), dtype, device, requires_grad, name)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False,
         name: str | None = None) -> Tensor:
    """Uniform samples in [0, 1) from the device's seeded generator."""
    return _new(_sampled(lambda g, s, d: g.random(s, dtype=d)),
                _shape_arg(shape), dtype, device, requires_grad, name)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False,
               name: str | None = None) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                 requires_grad=requires_grad, name=name)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False,
              name: str | None = None) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad, name=name)


def tensor(data, dtype=None, device=None, requires_grad: bool = False,
           name: str | None = None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device, name=name)


def from_numpy(array) -> Tensor:
    """A CPU tensor over ``array``'s own memory, not a copy (``torch.from_numpy``): a write to
    either shows in the other, and, as in torch, a write to the array is not seen by the
    version checks of backward. For a batch handed to a model every step, it saves the copy
    ``tg.tensor`` makes (and the fresh memory the copy touches)."""
    try:
        host = backend_for(array) is backend_for_device("cpu")
    except TypeError:
        host = False
    if not host:
        raise TypeError(f"from_numpy: expected a NumPy ndarray, got {type(array).__name__} "
                        "(tg.tensor copies lists, scalars and GPU arrays)")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: can't convert an array of dtype {array.dtype}; the "
                        "supported kinds are bool, integers, floats and complex")
    return Tensor._make(array)


def manual_seed(seed: int) -> None:
    """Seed every backend's generator (NumPy now; CuPy's too, now or when first used)."""
    _seed_backends(int(seed))
