"""The GPU backend: CuPy. Importing this module fails with BackendUnavailable,
saying whether CuPy is missing or no GPU/driver is usable."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, parse_device

try:
    import cupy
    import cupyx
except ImportError as error:  # pragma: no cover - depends on the machine
    raise BackendUnavailable(
        "CUDA was requested but CuPy is not installed: "
        "pip install 'tinygrad_rnn[cuda]' (CuPy for CUDA 12), or use device='cpu'"
    ) from error

try:
    _DEVICE_COUNT = cupy.cuda.runtime.getDeviceCount()
except Exception as error:  # pragma: no cover - depends on the machine
    raise BackendUnavailable(
        f"CUDA was requested and CuPy is installed, but no GPU or driver is usable ({error}); "
        "check nvidia-smi, or use device='cpu'"
    ) from error
if _DEVICE_COUNT == 0:  # pragma: no cover
    raise BackendUnavailable("CUDA was requested and CuPy is installed, but no GPU is visible; "
                             "check CUDA_VISIBLE_DEVICES and nvidia-smi, or use device='cpu'")


class CupyBackend(Backend):
    name = "cupy"
    xp = cupy
    array_type = cupy.ndarray

    def __init__(self):
        self._generators: dict[int, object] = {}
        self._seed = 0

    def _index(self, device: str) -> int:
        _, index = parse_device(device)
        if index >= _DEVICE_COUNT:
            raise BackendUnavailable(f"device {device!r} does not exist: this machine has "
                                     f"{_DEVICE_COUNT} GPU(s), cuda:0 to cuda:{_DEVICE_COUNT - 1}")
        return index

    def device_of(self, array) -> str:
        return f"cuda:{array.device.id}"

    def asarray(self, data, dtype=None, device: str = "cuda", copy: bool = False):
        with cupy.cuda.Device(self._index(device)):
            return cupy.array(data, dtype=dtype) if copy else cupy.asarray(data, dtype=dtype)

    def to_numpy(self, array):
        return cupy.asnumpy(array)

    def scatter_add(self, target, index, values) -> None:
        cupyx.scatter_add(target, index, values)

    def erf(self, array):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(array)

    def random(self, device: str = "cuda"):
        index = self._index(device)
        if index not in self._generators:
            with cupy.cuda.Device(index):
                self._generators[index] = cupy.random.default_rng(self._seed + index)
        return self._generators[index]

    def manual_seed(self, seed: int) -> None:
        self._seed = seed
        self._generators.clear()

    def synchronize(self, device: str = "cuda") -> None:
        with cupy.cuda.Device(self._index(device)):
            cupy.cuda.get_current_stream().synchronize()

    def kernel(self, name: str):
        """The recurrent cells' pointwise kernels (see ``_KERNEL_CALLS``), each one
        ``cupy.ElementwiseKernel`` launch over the (B, H) elements of a step."""
        return _KERNEL_CALLS.get(name)


# The kernels' calls, with the same arguments as the cells' array code they replace
# (models/lstm_cell.py, models/gru_cell.py); the (B, kH) gate arrays are read and written raw.
def _lstm_pointwise(gates, c_prev, h_out, c_out) -> None:
    _kernels()["lstm_forward"](c_prev, c_prev.shape[-1], _contiguous(gates, "gates"), h_out, c_out)


def _lstm_pointwise_backward(gates, c_prev, c, dh, dc, dgates_out, dc_prev_out) -> None:
    _kernels()["lstm_backward"](_contiguous(gates, "gates"), c_prev, c, dh, dc, c_prev.shape[-1],
                                _contiguous(dgates_out, "dgates_out"), dc_prev_out)


def _gru_pointwise(xg, hg, h_prev, h_out, hn_out) -> None:
    _kernels()["gru_forward"](_contiguous(hg, "hg"), h_prev, h_prev.shape[-1],
                              _contiguous(xg, "xg"), h_out, hn_out)


def _gru_pointwise_backward(acts, hn, h_prev, dh, dxg_out, dhn_out, dh_prev_out) -> None:
    _kernels()["gru_backward"](_contiguous(acts, "acts"), hn, h_prev, dh, h_prev.shape[-1],
                               _contiguous(dxg_out, "dxg_out"), dhn_out, dh_prev_out)


_KERNEL_CALLS = {"lstm_pointwise": _lstm_pointwise,
                 "lstm_pointwise_backward": _lstm_pointwise_backward,
                 "gru_pointwise": _gru_pointwise,
                 "gru_pointwise_backward": _gru_pointwise_backward}


def _contiguous(array, name: str):
    """The raw (B, kH) gate arrays are indexed as row-major blocks, so they must be C-contiguous."""
    if not array.flags.c_contiguous:
        raise ValueError(f"fused cell kernel: {name} must be C-contiguous")
    return array


_KERNELS: dict = {}


def _kernels() -> dict:
    """The elementwise kernels, built on first use (CuPy compiles each on its first launch).
    Element i is (row b = i / H, column j = i % H); gate k of that element sits at
    b * (gates * H) + k * H + j in the raw gate array."""
    if _KERNELS:
        return _KERNELS
    sigmoid = "T(1) / (T(1) + exp(-({x})))"
    _KERNELS["lstm_forward"] = cupy.ElementwiseKernel(
        "T c_prev, int64 H",
        "raw T gates, T h, T c",
        f"""
        const ptrdiff_t b = i / H, j = i % H, base = b * 4 * H + j;
        const T ig = {sigmoid.format(x="gates[base]")};
        const T fg = {sigmoid.format(x="gates[base + H]")};
        const T gg = tanh(gates[base + 2 * H]);
        const T og = {sigmoid.format(x="gates[base + 3 * H]")};
        gates[base] = ig;
        gates[base + H] = fg;
        gates[base + 2 * H] = gg;
        gates[base + 3 * H] = og;
        c = fg * c_prev + ig * gg;
        h = og * tanh(c);
        """,
        "tinygrad_rnn_lstm_forward")
    _KERNELS["lstm_backward"] = cupy.ElementwiseKernel(
        "raw T gates, T c_prev, T c, T dh, T dc, int64 H",
        "raw T dgates, T dc_prev",
        """
        const ptrdiff_t b = i / H, j = i % H, base = b * 4 * H + j;
        const T ig = gates[base], fg = gates[base + H];
        const T gg = gates[base + 2 * H], og = gates[base + 3 * H];
        const T tc = tanh(c);
        const T dct = dc + dh * og * (T(1) - tc * tc);
        dgates[base] = dct * gg * ig * (T(1) - ig);
        dgates[base + H] = dct * c_prev * fg * (T(1) - fg);
        dgates[base + 2 * H] = dct * ig * (T(1) - gg * gg);
        dgates[base + 3 * H] = dh * tc * og * (T(1) - og);
        dc_prev = dct * fg;
        """,
        "tinygrad_rnn_lstm_backward")
    _KERNELS["gru_forward"] = cupy.ElementwiseKernel(
        "raw T hg, T h_prev, int64 H",
        "raw T xg, T h, T hn",
        f"""
        const ptrdiff_t b = i / H, j = i % H, base = b * 3 * H + j;
        const T r = {sigmoid.format(x="xg[base] + hg[base]")};
        const T z = {sigmoid.format(x="xg[base + H] + hg[base + H]")};
        const T hgn = hg[base + 2 * H];
        const T n = tanh(xg[base + 2 * H] + r * hgn);
        xg[base] = r;
        xg[base + H] = z;
        xg[base + 2 * H] = n;
        hn = hgn;
        h = n + z * (h_prev - n);
        """,
        "tinygrad_rnn_gru_forward")
    _KERNELS["gru_backward"] = cupy.ElementwiseKernel(
        "raw T acts, T hn, T h_prev, T dh, int64 H",
        "raw T dxg, T dhn, T dh_prev",
        """
        const ptrdiff_t b = i / H, j = i % H, base = b * 3 * H + j;
        const T r = acts[base], z = acts[base + H], n = acts[base + 2 * H];
        const T dn = dh * (T(1) - z) * (T(1) - n * n);
        dxg[base] = dn * hn * r * (T(1) - r);
        dxg[base + H] = dh * (h_prev - n) * z * (T(1) - z);
        dxg[base + 2 * H] = dn;
        dhn = dn * r;
        dh_prev = dh * z;
        """,
        "tinygrad_rnn_gru_backward")
    return _KERNELS
