"""The drawings as Graphviz lays them out: the same order inside every time step, and the
README's LSTM picture readable at the width GitHub shows it.

These run the real ``dot`` and read where it put each box (``dot -Tplain``: one line per node
with its centre in inches) and the font size of each text it drew (``dot -Tjson``: the draw
operations, ``F`` sets the font and ``T`` writes a text).
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.viz import dot as render_module
from test_viz import README, needs_dot, parse, png_size


def composed(kind: str, steps: int = 3):
    """A composed (``fused=False``) LSTM or GRU layer over ``steps`` steps, each step a
    ``t=k`` cluster whose gates are named i_t, f_t, g_t, o_t or r_t, z_t, n_t."""
    from tinygrad_rnn.models import GRU, LSTM
    tg.manual_seed(0)
    layer = {"lstm": LSTM, "gru": GRU}[kind](3, 4, fused=False)
    output, _ = layer(tg.randn(steps, 1, 3))
    return (output[-1] ** 2).sum()


def dot_output(source: str, format: str) -> str:
    done = subprocess.run([render_module.dot_path(), f"-T{format}"], input=source,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def centres(source: str) -> dict:
    """{node id: (x, y)} where dot put each box (inches; y grows upwards)."""
    found = {}
    for line in dot_output(source, "plain").splitlines():
        parts = line.split()
        if parts and parts[0] == "node":
            found[parts[1]] = (float(parts[2]), float(parts[3]))
    return found


GATE = re.compile(r'label="([a-z])_t(?: = |: )')     # forward "i_t = sigmoid", backward "i_t: ..."


def gate_orders(graph, gates: str) -> dict:
    """{step: the step's gates in the order they stand across the ranks}: top to bottom when
    the ranks run sideways (rankdir LR or RL), else left to right."""
    source = graph.source
    sideways = re.search(r"rankdir=\"?(LR|RL)", source) is not None
    where = centres(source)
    nodes, _, clusters = parse(source)
    orders = {}
    for step in clusters:
        found = []
        for node, (cluster, attrs) in nodes.items():
            match = GATE.match(attrs)
            if cluster == step and match and match.group(1) in gates:
                x, y = where[node]
                found.append((-y if sideways else x, match.group(1)))
        orders[step] = "".join(name for _, name in sorted(found))
    return orders


@needs_dot
@pytest.mark.parametrize("view", ["forward", "backward"])
@pytest.mark.parametrize("kind, gates", [("lstm", "ifgo"), ("gru", "rzn")])
def test_every_step_shows_its_gates_in_the_same_order(kind, gates, view):
    orders = gate_orders(viz.draw(composed(kind), view=view), gates)
    print(kind, view, orders)
    assert list(orders) == ["t=0", "t=1", "t=2"]
    assert all(sorted(order) == sorted(gates) for order in orders.values()), orders
    assert len(set(orders.values())) == 1, orders                 # the same in every step
    first = orders["t=0"]
    if kind == "lstm":
        assert first == "ifgo"           # one rank, in tape order (PyTorch's [i f g o])
    else:
        assert first.replace("n", "") == "rz"     # r and z share a rank; n comes later


@needs_dot
def test_steps_drawn_top_to_bottom_keep_the_order_too():
    orders = gate_orders(viz.draw(composed("lstm"), rankdir="TB"), "ifgo")
    assert set(orders.values()) == {"ifgo"}, orders


# ------------------------------------------------------------------ the README's LSTM picture

# GitHub shows a README picture at its own width, shrunk to the README column when wider
# (never enlarged); the column is 830 to 900 px on a desktop repository page: the narrower one
# is the worst case.
README_WIDTH = 830
PNG_DPI = 96        # dot writes PNGs at 96 pixels per inch; a point is 1/72 inch


def text_px_in_readme(font_pt: float, png_width: int) -> float:
    """How tall text of ``font_pt`` points is on the README page, in px:
    font_pt * PNG_DPI / 72 * min(1, README_WIDTH / png_width)."""
    return font_pt * PNG_DPI / 72 * min(1.0, README_WIDTH / png_width)


def drawn_font_sizes(source: str) -> list[float]:
    """The font size (points) of every text dot draws: boxes, arrow labels, cluster titles."""
    sizes = []

    def walk(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.endswith("draw_"):
                    size = None
                    for op in inner:
                        if op["op"] == "F":
                            size = op["size"]
                        elif op["op"] == "T" and op["text"].strip():
                            sizes.append(size)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(json.loads(dot_output(source, "json")))
    return sizes


@needs_dot
def test_the_readme_lstm_picture_is_readable_at_readme_width(tmp_path):
    from tinygrad_rnn.viz.pictures import PICTURES
    # embedded without a width: shown at min(its width, the column's)
    assert "![two LSTM steps](docs/lstm_two_steps.png)" in README.read_text()
    drawn = PICTURES["lstm_two_steps.png"](tmp_path / "lstm.png")
    width, height = png_size(tmp_path / "lstm.png")
    sizes = drawn_font_sizes(drawn.source)
    smallest = text_px_in_readme(min(sizes), width)
    print(f"lstm_two_steps.png: {width}x{height} px, {len(sizes)} texts of "
          f"{min(sizes):g}..{max(sizes):g} pt; the smallest is {smallest:.1f} px at "
          f"{README_WIDTH} px wide")
    assert len(sizes) > 40                  # every box's text was found
    assert smallest >= 10, (width, min(sizes), smallest)
