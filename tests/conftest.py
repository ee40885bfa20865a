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


def pytest_report_header(config):
    """Say at the top which of the optional checks run here, and why the others skip."""
    try:
        import torch
        parity = f"torch parity tests run (torch {torch.__version__})"
    except ImportError as error:
        parity = (f"torch parity tests skip: torch is not importable ({error}); "
                  "pip install -e '.[parity]' (bash scripts/test.sh does)")
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
