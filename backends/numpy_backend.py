"""The CPU backend: NumPy."""
from __future__ import annotations

import math

import numpy

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    xp = numpy
    array_type = numpy.ndarray
    scalar_types = frozenset(t for t in numpy.sctypeDict.values() if issubclass(t, numpy.generic))

    def __init__(self):
        self._generator = numpy.random.default_rng(0)
        self._zero_bytes: dict[int, bytes] = {}

    def stand_in(self, array):
        """Zero strides over immutable zero bytes: 1.3 us, where broadcast_to takes 5 (a
        shadow is made on every large input of a non-saving op)."""
        size = array.dtype.itemsize
        zero = self._zero_bytes.get(size)
        if zero is None:
            zero = self._zero_bytes[size] = bytes(size)
        return numpy.ndarray(array.shape, array.dtype, buffer=zero, strides=(0,) * array.ndim)

    def device_of(self, array) -> str:
        return "cpu"

    def asarray(self, data, dtype=None, device: str = "cpu", copy: bool = False):
        if hasattr(data, "__cuda_array_interface__"):  # a cupy array moving to the host
            return numpy.asarray(data.get(), dtype=dtype)
        return numpy.array(data, dtype=dtype) if copy else numpy.asarray(data, dtype=dtype)

    def to_numpy(self, array):
        return array

    def scatter_add(self, target, index, values) -> None:
        numpy.add.at(target, index, values)

    def erf(self, array):
        if array.dtype.itemsize >= 8:
            # float64: math.erf elementwise, exact to the last bit (NumPy has no erf ufunc);
            # the gradient checks run here
            return numpy.asarray(_ERF(array), dtype=array.dtype)
        # float32 and narrower: math.erf costs ~85 ns an element, which made exact GELU more
        # than half of a GPT's training step; this is within 3 float32 ulps of it and 10x faster (tested)
        return erf_float32(numpy.asarray(array, dtype=numpy.float32)).astype(array.dtype,
                                                                             copy=False)

    def random(self, device: str = "cpu"):
        return self._generator

    def manual_seed(self, seed: int) -> None:
        self._generator = numpy.random.default_rng(seed)

    def rng_state(self) -> dict:
        return self._generator.bit_generator.state

    def set_rng_state(self, state) -> None:
        generator = numpy.random.default_rng(0)
        try:
            generator.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"not a NumPy generator state ({type(error).__name__}: {error})") from None
        self._generator = generator

    # ------------------------------------------------- checkpoints (tg.save / tg.load)
    def write_array(self, file, array) -> None:
        """Write ``array`` (a host array) to the binary file object ``file`` in .npy format.
        Object arrays are refused (``allow_pickle=False``): nothing saved needs unpickling."""
        numpy.lib.format.write_array(file, numpy.asarray(array), allow_pickle=False)

    def read_array(self, file, max_bytes: int | None = None):
        """Read one .npy array from the binary file object ``file``, never unpickling: an
        object array raises ValueError instead of running the pickle it holds. The header is
        checked before anything is allocated: an array over ``max_bytes`` raises ValueError."""
        fmt = numpy.lib.format
        version = fmt.read_magic(file)
        header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = header(file)
        if dtype.hasobject:
            raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
        count = 1
        for size in shape:
            count *= int(size)
        nbytes = count * dtype.itemsize
        if max_bytes is not None and nbytes > max_bytes:
            raise ValueError(f"its header declares a {dtype.str} array of shape {tuple(shape)} "
                             f"({nbytes:,} bytes), over the limit of {max_bytes:,} bytes")
        buffer = bytearray(nbytes)
        got = file.readinto(buffer) if nbytes else 0
        while 0 < got < nbytes:              # a stream may hand back fewer bytes per call
            more = file.readinto(memoryview(buffer)[got:])
            if not more:
                break
            got += more
        if got != nbytes:
            raise ValueError(f"the array data ends after {got:,} of {nbytes:,} bytes")
        array = numpy.frombuffer(buffer, dtype=dtype, count=count)
        if fortran_order:
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)


_ERF = numpy.frompyfunc(math.erf, 1, 1)

# erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)): the coefficients of x^(2n+1),
# n = 9 .. 0, for Horner's rule in x^2 (used for |x| < NEAR, where 10 terms leave < 1e-9)
_TAYLOR = [(-1) ** n * 2 / math.sqrt(math.pi) / (math.factorial(n) * (2 * n + 1))
           for n in range(9, -1, -1)]
_NEAR = 0.75
# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev fit of Numerical
# Recipes (2nd ed., section 6.2, erfcc), fractional error below 1.2e-7 for every z; P's
# coefficients from t^9 down to t^0
_ERFC_FIT = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
             0.09678418, 0.37409196, 1.00002368, -1.26551223]
_CHUNK = 16384     # elements per pass: the ~30 passes below then stay in the CPU's cache


def erf_float32(x):
    """erf over a float32 array with array operations: the series near 0 (where 1 - erfc
    would lose relative precision), 1 - erfc(|x|) beyond it, with x's sign."""
    flat = numpy.ascontiguousarray(x).reshape(-1)
    out = numpy.empty_like(flat)
    z, t, far, near = (numpy.empty(min(_CHUNK, flat.size), numpy.float32) for _ in range(4))
    for low in range(0, flat.size, _CHUNK):
        piece = flat[low:low + _CHUNK]
        n = piece.size
        _erf_piece(piece, z[:n], t[:n], far[:n], near[:n])
        numpy.copyto(out[low:low + n], numpy.where(z[:n] < _NEAR, near[:n], far[:n]))
    return out.reshape(numpy.shape(x))


def _erf_piece(x, z, t, far, near) -> None:
    """far = sign(x) (1 - erfc(|x|)), near = the series; z = |x|, t scratch."""
    numpy.abs(x, out=z)
    numpy.multiply(z, numpy.float32(0.5), out=t)
    t += 1
    numpy.reciprocal(t, out=t)
    far.fill(_ERFC_FIT[0])
    for c in _ERFC_FIT[1:]:
        far *= t
        far += numpy.float32(c)
    numpy.multiply(z, z, out=near)            # z^2, for the exponent and for the series
    far -= near
    numpy.exp(far, out=far)
    far *= t
    numpy.subtract(1, far, out=far)
    numpy.copysign(far, x, out=far)
    square = t                                # t is done with: the series runs in x^2
    numpy.copyto(square, near)
    near.fill(_TAYLOR[0])
    for c in _TAYLOR[1:]:
        near *= square
        near += numpy.float32(c)
    near *= x
