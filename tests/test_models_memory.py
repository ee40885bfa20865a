"""A training step of a recurrent layer leaves nothing behind: no reference cycles (so memory
does not wait for the cyclic collector), and a process's peak memory stays flat over many
steps with the collector left as Python leaves it."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import GRU, LSTM, RNN

LAYERS = {"lstm": (LSTM, {}), "gru": (GRU, {}), "rnn_tanh": (RNN, {}),
          "rnn_relu": (RNN, {"nonlinearity": "relu"})}


def training_step(layer, x):
    out, _ = layer(x)
    (out * out).mean().backward()
    with tg.no_grad():
        for p in layer.parameters():
            p.data -= 0.1 * p.grad.data
            p.grad = None


def _from_the_project(obj) -> bool:
    return type(obj).__module__.startswith("tinygrad_rnn")


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_a_training_step_leaves_no_reference_cycles(kind, fused):
    cls, extra = LAYERS[kind]
    layer = cls(3, 4, num_layers=2, bidirectional=True, dropout=0.2, fused=fused, **extra)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype("float32"),
                  requires_grad=True)
    training_step(layer, x)                        # warm: anything built once, lazily
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        training_step(layer, x)
        gc.collect()
        found = [type(o).__qualname__ for o in gc.garbage if _from_the_project(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found == []


_RSS_SCRIPT = """
import sys
import numpy as np
import tinygrad_rnn as tg
from tinygrad_rnn.models import LSTM, GRU, RNN
sys.path.insert(0, {tests!r})
from test_models_memory import training_step
layer = {{"lstm": LSTM, "gru": GRU, "rnn": RNN}}[{kind!r}](16, 128, fused={fused})
x = tg.Tensor(np.random.default_rng(0).standard_normal((32, 16, 16)).astype("float32"))
peaks = []
for step in range(200):
    training_step(layer, x)
    if step + 1 in (20, 200):
        # VmHWM: this process's peak RSS (ru_maxrss would start from pytest's peak at fork)
        peaks.append(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]))
print(peaks[0], peaks[1])
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_peak_memory_after_200_steps_is_that_after_20(kind, fused):
    script = _RSS_SCRIPT.format(tests=os.path.dirname(__file__), kind=kind, fused=fused)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    after_20, after_200 = (int(v) for v in done.stdout.split())
    assert after_200 <= 1.05 * after_20, (after_20, after_200)
