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
        # math.erf elementwise: exact to the last bit, and NumPy has no vectorized erf
        return numpy.asarray(_ERF(array), dtype=array.dtype)

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
