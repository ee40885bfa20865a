"""||dL/dh_t|| at every step of an LSTM, recorded with module hooks (no change to the model).

The LSTM layer here is an LSTMCell stepped over the sequence, so the cell module is called
once per step: a forward hook records ||h_t||, and a full backward hook, which fires once per
step during backward (the last step first), records ||dL/dh_t||, the gradient reaching h_t
from the loss through all later steps. With a loss on the last step only, it shows how the
gradient shrinks on its way back in time (the vanishing-gradient picture).

    python examples/lstm_gradient_norms.py
"""
from __future__ import annotations

import tinygrad_rnn as tg
from tinygrad_rnn.models import LSTMCell


def gradient_norms(steps: int = 30, hidden: int = 16, seed: int = 0) -> dict:
    """Per-step ||h_t|| (forward hook) and ||dL/dh_t|| (backward hook), indexed by t."""
    tg.manual_seed(seed)
    cell = LSTMCell(4, hidden)
    head = tg.nn.Linear(hidden, 1)
    forward_norms, backward_norms = [], []
    on_forward = cell.register_forward_hook(
        lambda module, args, output: forward_norms.append(output[0].norm().item()))
    on_backward = cell.register_full_backward_hook(
        lambda module, grad_input, grad_output: backward_norms.append(
            grad_output[0].norm().item()))
    x = tg.randn(steps, 2, 4)
    state = None
    for t in range(steps):
        state = cell(x[t], state)
    loss = head(state[0]).sum()
    loss.backward()
    on_forward.remove()
    on_backward.remove()
    return {"h": forward_norms, "dL/dh": backward_norms[::-1]}   # backward ran last step first


if __name__ == "__main__":
    norms = gradient_norms()
    for t, (h, g) in enumerate(zip(norms["h"], norms["dL/dh"])):
        print(f"t={t:2d}  ||h_t|| = {h:.3f}   ||dL/dh_t|| = {g:.3e}")
