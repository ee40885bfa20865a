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
