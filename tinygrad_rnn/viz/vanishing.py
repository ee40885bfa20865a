"""The vanishing-gradient picture of the lecture notes, as numbers, a table and a plot.

A vanilla RNN, an LSTM and a GRU of the same width read the same random sequence
x_1..x_T; the loss looks only at the last state, L = <v, h_T>. Backpropagation through
time then gives

    dL/dh_t = (prod_{k=t+1..T} dh_k/dh_{k-1})^T dL/dh_T,

and ||dL/dh_t|| shows how much of the signal survives the trip back from step T to step
t: for the tanh RNN it shrinks geometrically; the LSTM's additive cell path and the GRU's
interpolation let more of it through, as far as their gates stay open. ``gate_bias`` is
added to the LSTM's forget-gate and the GRU's update-gate biases (the usual +1 of Gers et
al. 2000 and Jozefowicz et al. 2015): at 0 both gates start near 1/2 and the memory path
halves every step, which is what the default initialisation alone shows.
"""
from __future__ import annotations

import math

CELLS = ("rnn", "lstm", "gru")


def vanishing_gradients(steps: int = 50, hidden_size: int = 32, input_size: int = 8,
                        seed: int = 0, device: str = "cpu",
                        gate_bias: float = 1.0) -> dict[str, list[float]]:
    """{cell: [||dL/dh_t|| for t = 0..steps-1]} for the RNN, LSTM and GRU cells."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import GRUCell, LSTMCell, RNNCell
    classes = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
    tg.manual_seed(seed)
    x = tg.randn(steps, 1, input_size, device=device)
    v = tg.randn(1, hidden_size, device=device)
    norms = {}
    for name in CELLS:
        tg.manual_seed(seed + 1)
        cell = classes[name](input_size, hidden_size).to(device)
        if name != "rnn" and gate_bias:
            # the second block of H bias rows is the LSTM's f gate (i, f, g, o) and the
            # GRU's z gate (r, z, n)
            with tg.no_grad():
                cell.bias_ih.data[hidden_size:2 * hidden_size] += gate_bias
        h = tg.zeros(1, hidden_size, device=device)
        c = tg.zeros(1, hidden_size, device=device)
        states = []
        for t in range(steps):
            with tg.scope(f"t={t}"):
                if name == "lstm":
                    h, c = cell(x[t], (h, c))
                else:
                    h = cell(x[t], h)
            states.append(h.retain_grad())
        (h * v).sum().backward()
        norms[name] = [math.sqrt(float((s.grad.data ** 2).sum())) for s in states]
    return norms


def format_table(norms: dict[str, list[float]], every: int = 5) -> str:
    """||dL/dh_t|| per cell, every ``every`` steps back from the end (and the first step)."""
    steps = len(next(iter(norms.values())))
    rows = sorted(set(range(steps - 1, -1, -every)) | {0})
    header = f"{'t':>4}  " + "  ".join(f"{name.upper():>10}" for name in norms)
    lines = ["||dL/dh_t|| with L = <v, h_T> (how much gradient reaches step t)", header]
    for t in rows:
        lines.append(f"{t:>4}  " + "  ".join(f"{norms[name][t]:10.3e}" for name in norms))
    ratios = "  ".join(f"{name.upper()} {norms[name][0] / norms[name][-1]:.1e}" for name in norms)
    lines.append(f"ratio ||dL/dh_0|| / ||dL/dh_T-1||: {ratios}")
    return "\n".join(lines)


def settings_text(hidden_size: int, gate_bias: float, trained: bool = False) -> str:
    """The settings a plot of the norms depends on, in words."""
    bias = (f"gate bias {gate_bias:+g} (LSTM forget, GRU update)" if gate_bias
            else "gate bias 0")
    state = "trained" if trained else "untrained (initial weights)"
    return f"hidden size {hidden_size}, {bias}\n{state}, loss L = <v, h_T> on the last step"


def plot(norms: dict[str, list[float]], path: str, hidden_size: int | None = None,
         gate_bias: float | None = None, trained: bool = False) -> str:
    """A log-scale plot of the norms against the number of steps back from the loss, written
    to ``path`` (needs matplotlib); the settings, when given, are written under the title."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'tinygrad_rnn[plot]' "
                          "(the table above has the same numbers)") from None
    figure, axes = plt.subplots(figsize=(7, 4.6))
    for name, values in norms.items():
        back = range(len(values) - 1, -1, -1)         # step t is T-1-t steps back from the loss
        axes.semilogy(list(back), values, label=name.upper(), linewidth=2)
    axes.set_xlabel("steps back from the loss (T-1-t)")
    axes.set_ylabel("||dL/dh_t||  (log scale)")
    title = f"Gradient reaching step t from a loss at step {len(values) - 1}"
    if hidden_size is not None:
        title += "\n" + settings_text(hidden_size, gate_bias or 0.0, trained)
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
