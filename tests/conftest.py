"""Shared fixtures: every op test runs on each available backend; GPU cases skip with the
reason when no GPU is usable."""
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.backends import BackendUnavailable, cupy_backend


def _cuda_reason() -> str | None:
    try:
        cupy_backend()
        return None
    except BackendUnavailable as error:
        return f"no usable GPU: {error}"


CUDA_SKIP_REASON = _cuda_reason()


def pytest_terminal_summary(terminalreporter):
    """Say at the end (also under -q) which optional checks ran here, and why others skipped."""
    for line in _optional_checks():
        terminalreporter.write_line(line)


def _optional_checks() -> list:
    import importlib.metadata
    import importlib.util
    if importlib.util.find_spec("torch") is not None:     # found, not imported: stays quick
        parity = f"torch parity tests run (torch {importlib.metadata.version('torch')})"
    else:
        parity = ("torch parity tests skip: torch is not installed; pip install -e '.[parity]' "
                  "(bash scripts/test.sh does, and says why when it cannot)")
    gpu = "CUDA tests run" if CUDA_SKIP_REASON is None else f"CUDA tests skip: {CUDA_SKIP_REASON}"
    return [parity, gpu]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    CUDA_SKIP_REASON is not None, reason=CUDA_SKIP_REASON or ""))]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device under test: 'cpu', and 'cuda' where a GPU is usable."""
    return request.param


@pytest.fixture(autouse=True)
def _seeded():
    tg.manual_seed(0)
    yield
