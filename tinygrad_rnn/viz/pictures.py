"""The README's pictures, each made by one function here (the tests render every one of them).

    python -m tinygrad_rnn.viz.pictures docs/        # rewrite them all

``PICTURES`` maps each file name under docs/ to a function that writes it to a given path and
returns what it drew (a ``graphviz.Digraph``, or None for a plot).
"""
from __future__ import annotations

import sys
from pathlib import Path


def _seeded():
    import tinygrad_rnn as tg
    tg.manual_seed(0)
    return tg


def lstm_two_steps(path):
    """An LSTMCell over two steps, op by op, with the lecture's names (i_t .. h_t, h_0, c_0),
    the cell state's highway bold and the recurrent arrows blue. Top to bottom, one step below
    the other: one step is four gates wide, so the picture stays readable at README width."""
    from tinygrad_rnn import viz
    from tinygrad_rnn.models import LSTMCell
    tg = _seeded()
    cell = LSTMCell(3, 4)
    x = tg.randn(2, 1, 3, name="x")
    h = c = None
    for t in range(2):
        with tg.scope(f"t={t}"):
            h, c = cell(x[t].named("x_t"), None if h is None else (h, c))
    graph = viz.draw((h * h).sum(), rankdir="TB")
    viz.render(graph, path)
    return graph


def rnn_backward(path):
    """A hand-written 3-step RNN's backward view with data | grad: the sum where dL/dh_t gathers
    its contributions from y_t and from step t+1, and dL/dW_hh = sum_t."""
    from tinygrad_rnn import viz
    tg = _seeded()
    W_hh = tg.randn(2, 2, requires_grad=True, name="W_hh")
    V = tg.randn(2, 1, requires_grad=True, name="V")
    h = tg.zeros(1, 2, name="h_0")
    loss = 0.0
    for t in range(3):
        with tg.scope(f"t={t}"):
            x = tg.randn(1, 2, name="x_t")
            h = (x + h @ W_hh).tanh().named("h_t")
            y = (h @ V).named("y_t")
        loss = loss + (y * y).sum()
    loss.backward(retain_graph=True)
    graph = viz.draw(loss, view="backward", show_values=True, show_shapes=False,
                     gradients=True, rankdir="TB")
    viz.render(graph, path)
    return graph


def _five_step_gru():
    from tinygrad_rnn.models import GRU
    tg = _seeded()
    gru = GRU(3, 4, fused=False)
    output, _ = gru(tg.randn(5, 1, 3))
    loss = (output[-1] ** 2).sum()
    loss.backward(retain_graph=True)
    return loss


def gru_rolled_gradients(path):
    """The 5-step composed GRU rolled: one box per op for all steps, each listing its gradient
    norm per step and coloured by the smallest."""
    from tinygrad_rnn import viz
    graph = viz.draw(_five_step_gru(), gradients=True, rolled=True, rankdir="TB")
    viz.render(graph, path)
    return graph


def gru_five_steps_cell(path):
    """The same GRU at detail="cell": one box per cell step, a slide."""
    from tinygrad_rnn import viz
    graph = viz.draw(_five_step_gru(), gradients=True, detail="cell")
    viz.render(graph, path)
    return graph


def seq2seq_cell(path):
    """A 3-token to 3-token seq2seq with Bahdanau attention at detail="cell": the encoder's
    steps (both directions), each decoder step with its attention block, the loss."""
    from tinygrad_rnn import viz
    from tinygrad_rnn.models import Seq2Seq
    tg = _seeded()
    model = Seq2Seq(6, 6, embed_size=3, hidden_size=4, fused=False)
    loss = model.loss(tg.tensor([[3, 4, 5]], dtype="int64"), [3],
                      tg.tensor([[1, 3, 4, 2]], dtype="int64"))
    graph = viz.draw(loss, detail="cell")
    viz.render(graph, path)
    return graph


def vanishing_gradients(path):
    """||dL/dh_t|| against steps back from the loss for RNN, LSTM and GRU (``gradflow``)."""
    from . import vanishing
    hidden, bias = 32, 1.0
    norms = vanishing.vanishing_gradients(50, hidden, gate_bias=bias)
    vanishing.plot(norms, str(path), hidden_size=hidden, gate_bias=bias)
    return None


PICTURES = {
    "lstm_two_steps.png": lstm_two_steps,
    "rnn_backward.png": rnn_backward,
    "gru_rolled_gradients.png": gru_rolled_gradients,
    "gru_five_steps_cell.png": gru_five_steps_cell,
    "seq2seq_cell.png": seq2seq_cell,
    "vanishing_gradients.png": vanishing_gradients,
}


def write_all(directory) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in PICTURES.items():
        make(directory / name)
        written.append(directory / name)
    return written


if __name__ == "__main__":
    for path in write_all(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(path)
