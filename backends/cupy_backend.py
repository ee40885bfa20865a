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

    def asarray(self, data, dtype=None, device: str = "cuda"):
        with cupy.cuda.Device(self._index(device)):
            return cupy.asarray(data, dtype=dtype)

    def to_numpy(self, array):
        return cupy.asnumpy(array)

    def scatter_add(self, target, index, values) -> None:
        cupyx.scatter_add(target, index, values)

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
