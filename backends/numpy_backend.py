"""The CPU backend: NumPy."""
from __future__ import annotations

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

    def random(self, device: str = "cpu"):
        return self._generator

    def manual_seed(self, seed: int) -> None:
        self._generator = numpy.random.default_rng(seed)

    # ------------------------------------------------- checkpoints (tg.save / tg.load)
    def write_array(self, file, array) -> None:
        """Write ``array`` (a host array) to the binary file object ``file`` in .npy format.
        Object arrays are refused (``allow_pickle=False``): nothing saved needs unpickling."""
        numpy.lib.format.write_array(file, numpy.asarray(array), allow_pickle=False)

    def read_array(self, file):
        """Read one .npy array from the binary file object ``file``, never unpickling: an
        object array raises ValueError instead of running the pickle it holds."""
        return numpy.lib.format.read_array(file, allow_pickle=False)
