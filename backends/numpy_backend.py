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

    # -- fused recurrent cells: see Backend. Every op writes into an existing array (out=), so
    #    a step allocates only a few (B, H) temporaries and float32 stays float32.
    def lstm_pointwise(self, gates, c_prev, h_out, c_out) -> None:
        H = c_prev.shape[-1]
        _sigmoid_(gates[:, :2 * H])
        numpy.tanh(gates[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])
        _sigmoid_(gates[:, 3 * H:])
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        numpy.multiply(f, c_prev, out=c_out)
        c_out += i * g
        numpy.tanh(c_out, out=h_out)
        h_out *= o

    def lstm_pointwise_backward(self, gates, c_prev, c, dh, dc, dgates_out, dc_prev_out) -> None:
        # Products land in fresh contiguous temporaries and are written once into the strided
        # gate columns: measured faster than chains of in-place ops on the strided views.
        H = c_prev.shape[-1]
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        tc = numpy.tanh(c)
        numpy.multiply(dh * tc, o * (1 - o), out=dgates_out[:, 3 * H:])    # do_pre
        dct = dh * o                                   # dc_t = dc + dh * o * (1 - tanh^2 c)
        dct *= 1 - tc * tc
        dct += dc
        numpy.multiply(dct * g, i * (1 - i), out=dgates_out[:, :H])         # di_pre
        numpy.multiply(dct * c_prev, f * (1 - f), out=dgates_out[:, H:2 * H])   # df_pre
        numpy.multiply(dct * i, 1 - g * g, out=dgates_out[:, 2 * H:3 * H])      # dg_pre
        numpy.multiply(dct, f, out=dc_prev_out)        # dc_{t-1} = dc_t * f

    def gru_pointwise(self, xg, hg, h_prev, h_out, hn_out) -> None:
        H = h_prev.shape[-1]
        rz = xg[:, :2 * H]
        rz += hg[:, :2 * H]
        _sigmoid_(rz)
        r, z, n = xg[:, :H], xg[:, H:2 * H], xg[:, 2 * H:]
        hn_out[...] = hg[:, 2 * H:]
        n += r * hn_out
        numpy.tanh(n, out=n)
        numpy.subtract(h_prev, n, out=h_out)            # h = n + z (h_{t-1} - n)
        h_out *= z
        h_out += n

    def gru_pointwise_backward(self, acts, hn, h_prev, dh, dxg_out, dhn_out, dh_prev_out) -> None:
        H = h_prev.shape[-1]
        r, z, n = acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:]
        dr, dz, dn = dxg_out[:, :H], dxg_out[:, H:2 * H], dxg_out[:, 2 * H:]
        tmp = numpy.empty_like(dh, dtype=acts.dtype)
        numpy.subtract(1, z, out=dn)                    # dn_pre = dh * (1 - z) * (1 - n^2)
        dn *= dh
        numpy.multiply(n, n, out=tmp)
        numpy.subtract(1, tmp, out=tmp)
        dn *= tmp
        numpy.subtract(h_prev, n, out=dz)               # dz_pre = dh * (h_{t-1} - n) * z (1 - z)
        dz *= dh
        numpy.subtract(1, z, out=tmp)
        tmp *= z
        dz *= tmp
        numpy.multiply(dn, hn, out=dr)                  # dr_pre = dn_pre * hg_n * r (1 - r)
        numpy.subtract(1, r, out=tmp)
        tmp *= r
        dr *= tmp
        numpy.multiply(dn, r, out=dhn_out)              # d(hg_n) = dn_pre * r
        numpy.multiply(dh, z, out=dh_prev_out)          # direct path h_{t-1} -> h_t


def _sigmoid_(x) -> None:
    """x <- sigma(x) in place, as 0.5 tanh(x/2) + 0.5 (never overflows; the core's Sigmoid too)."""
    x *= 0.5
    numpy.tanh(x, out=x)
    x *= 0.5
    x += 0.5


_ERF = numpy.frompyfunc(math.erf, 1, 1)
