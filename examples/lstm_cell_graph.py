"""Forward and backward graphs of an LSTM cell unrolled over two steps, and the rolled,
gradient-coloured graph of a 5-step GRU layer (the pictures of the graphs issue).

    python examples/lstm_cell_graph.py [OUT_DIR]
"""
import os
import sys

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.models import GRU, LSTMCell

out = sys.argv[1] if len(sys.argv) > 1 else "out/pictures"
os.makedirs(out, exist_ok=True)
tg.manual_seed(0)

cell = LSTMCell(3, 4)
h, c = tg.zeros(1, 4), tg.zeros(1, 4)
x = tg.randn(2, 1, 3)
for t in range(2):
    with tg.scope(f"t={t}"):                 # each step becomes a cluster in the drawing
        h, c = cell(x[t], (h, c))
loss = (h * h).sum()
print(viz.render(viz.draw(loss), os.path.join(out, "lstm_cell_forward.png")))
print(viz.render(viz.draw(loss, view="backward", verbose=True), os.path.join(out, "lstm_cell_backward.png")))

gru = GRU(3, 4, fused=False)                 # composed: every gate is visible
output, _ = gru(tg.randn(5, 1, 3))
loss = (output[-1] ** 2).sum()
loss.backward(retain_graph=True)
print(viz.render(viz.draw(loss, gradients=True, rankdir="LR"), os.path.join(out, "gru5_gradients.png")))
print(viz.render(viz.draw(loss, gradients=True, rolled=True), os.path.join(out, "gru5_rolled.png")))
print({t: round(n, 4) for t, n in viz.grad_norms_by_step(loss).items()})
