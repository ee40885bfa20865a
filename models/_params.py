"""Shared by the recurrent cells and layers: PyTorch's initialisation of recurrent weights."""
from __future__ import annotations

import math

from tinygrad_rnn import creation
from tinygrad_rnn.nn import Parameter, init


def uniform_parameter(shape: tuple, hidden_size: int, device=None, dtype=None) -> Parameter:
    """A Parameter drawn from U(-1/sqrt(H), 1/sqrt(H)), H the hidden size (PyTorch's RNN init)."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size else 0.0
    return Parameter(init.uniform_(creation.zeros(*shape, device=device, dtype=dtype),
                                   -bound, bound))


def zeros_state(batch_shape: tuple, hidden_size: int, like, name: str = "h_0"):
    """h_0 = 0 (or c_0: ``name``), with the dtype and device of ``like``."""
    return creation.zeros(*batch_shape, hidden_size, dtype=like.dtype, device=like.device,
                          name=name)


def check_input(who: str, x, input_size: int) -> None:
    if x.shape[-1] != input_size:
        from tinygrad_rnn.errors import OpError
        raise OpError(f"{who}: input's last dimension is {x.shape[-1]}, expected input_size="
                      f"{input_size} (input shape {tuple(x.shape)})")
