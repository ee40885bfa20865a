"""detect_anomaly(): stop at the first op whose forward or backward makes a NaN or an Inf,
naming the op and the line of user code that created it."""
from __future__ import annotations

import os
import sys

from .backends import backend_for
from .errors import AnomalyError
from .state import STATE

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class detect_anomaly:
    """Context manager (and decorator): check every op's output and every gradient."""

    def __enter__(self):
        self.previous = STATE.anomaly
        STATE.anomaly = True
        return self

    def __exit__(self, *exc):
        STATE.anomaly = self.previous
        return False

    def __call__(self, function):
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return function(*args, **kwargs)
        wrapper.__wrapped__ = function
        return wrapper


def creation_site() -> str:
    """``file:line`` of the innermost caller outside tinygrad_rnn (where the user made the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR) and "/backends/" not in filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _finite(array) -> bool:
    if array.dtype.kind not in "fc":
        return True
    return bool(backend_for(array).xp.isfinite(array).all())


def check_forward(node, out) -> None:
    node.site = creation_site()
    if not _finite(out.data):
        raise AnomalyError(f"detect_anomaly: {node.name} produced NaN or Inf in its forward "
                           f"output {tuple(out.shape)}; the op was created at {node.site}")


def checked_backward(node, gy, y, label=None):
    """Run one VJP and check its gradients; the ops inside it are not checked one by one,
    so a bad gradient is blamed on the VJP that made it, not on a helper op within."""
    STATE.anomaly = False
    try:
        grads = node.backward(gy, y)
    finally:
        STATE.anomaly = True
    for i, g in enumerate(grads):
        if g is not None and not _finite(g.data):
            from .function import _where
            raise AnomalyError(
                f"detect_anomaly: the backward of {node.name} (tape entry {_where(y, label)}) produced "
                f"NaN or Inf in the gradient of its input {i}; the op was created at {node.site}")
    return grads
