"""Graph drawings (tinygrad_rnn.viz): structure of the DOT text, time-step clusters, the
rolled view, gradient colours, truncated-BPTT cuts, step-through frames, rendering, size
limits and speed, and that drawing never changes the graph or the gradients."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.viz import dot as render_module
from tinygrad_rnn.viz.gradients import BAD_COLOUR, PALETTE

needs_dot = pytest.mark.skipif(render_module.dot_path() is None,
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")

B, D, H = 2, 3, 4


def lstm(T=3, name_inputs=True):
    """An LSTM-like cell written with core ops, unrolled over T steps inside tg.scope("t=k")."""
    W = tg.Tensor(np.random.default_rng(1).normal(0, 0.5, (D, 4 * H)), dtype="float32",
                  requires_grad=True, name="W")
    U = tg.Tensor(np.random.default_rng(2).normal(0, 0.5, (H, 4 * H)), dtype="float32",
                  requires_grad=True, name="U")
    h = tg.zeros(B, H)
    c = tg.zeros(B, H)
    xs = [tg.Tensor(np.random.default_rng(10 + t).normal(size=(B, D)), dtype="float32",
                    name=f"x{t}" if name_inputs else None) for t in range(T)]
    states = []
    for t in range(T):
        with tg.scope(f"t={t}"):
            z = xs[t] @ W + h @ U
            i, f = z[:, :H].sigmoid(), z[:, H:2 * H].sigmoid()
            g, o = z[:, 2 * H:3 * H].tanh(), z[:, 3 * H:].sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
        states.append(h)
    loss = (h * h).sum()
    return loss, W, U, xs, states


OPS_PER_STEP = 16   # 2 matmul, 2 add, 4 getitem, 3 sigmoid, 2 tanh, 3 mul


def parse(dot: str):
    """{node id: (cluster or None, attribute text)}, [(source, target, attribute text)],
    [cluster names] from the DOT text that viz writes."""
    nodes, edges, clusters = {}, [], []
    cluster = None
    for line in dot.splitlines():
        line = line.strip()
        m = re.match(r'subgraph "?cluster_([^"]*)"? \{', line)
        if m:
            cluster = m.group(1)
            clusters.append(cluster)
            continue
        if line == "}":
            cluster = None
            continue
        m = re.match(r"(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
            continue
        m = re.match(r"(\w+) \[(.*)\]$", line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            nodes[m.group(1)] = (cluster, m.group(2))
    return nodes, edges, clusters


def node_named(nodes, text):
    found = [k for k, (_, attrs) in nodes.items() if text in attrs]
    assert len(found) == 1, (text, found)
    return found[0]


def fill(attrs: str) -> str:
    found = re.search(r'fillcolor="([^"]+)"', attrs)
    return found.group(1) if found else ""


# ------------------------------------------------------------------ structure

def test_forward_view_structure_and_time_step_clusters():
    loss, W, U, xs, _ = lstm(T=3)
    entries = len(tg.tape(loss))
    assert entries == 3 * OPS_PER_STEP + 2
    nodes, edges, clusters = parse(viz.draw(loss).source)
    assert clusters == ["t=0", "t=1", "t=2"]
    ops = [k for k in nodes if k.startswith("o")]
    assert len(ops) == entries
    leaves = 2 + 3 + 2                          # W, U, x0..x2, h0, c0
    assert len([k for k in nodes if k.startswith("t")]) == entries + leaves
    for step in range(3):
        inside = [k for k, (c, _) in nodes.items() if c == f"t={step}" and k.startswith("o")]
        assert len(inside) == OPS_PER_STEP
    # shared weights: drawn once, outside every cluster, with an arrow into every step
    for name in ("W", "U"):
        key = node_named(nodes, f"{name}  (parameter)")
        assert nodes[key][0] is None
        assert "filled,bold" in nodes[key][1]
        targets = {nodes[b][0] for a, b, _ in edges if a == key}
        assert targets == {"t=0", "t=1", "t=2"}
    # an input read by one step only sits inside that step
    assert nodes[node_named(nodes, "x1  (input)")][0] == "t=1"
    # shapes, dtype and device are shown; the output is marked
    assert sum("(2, 16) float32 cpu" in attrs for _, attrs in nodes.values()) == 3 * 3
    assert nodes[node_named(nodes, 'label="output\\n()')][0] is None


def test_show_shapes_values_and_verbose_change_the_labels():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    big = tg.Tensor(np.arange(20, dtype="float32"), name="big")
    y = ((x * 2.0).sum() * big).tanh().mean()
    plain = viz.draw(y).source
    assert "(3,) float32 cpu" in plain and "[1, 2, 3]" not in plain
    assert "gx = gy * (1 - y^2)" not in plain
    assert "mul(., 2.0)" in plain
    values = viz.draw(y, show_values=True, show_shapes=False).source
    assert "[1, 2, 3]" in values and "min 0  mean 9.5  max 19" in values
    assert "float32" not in values
    verbose = viz.draw(y, verbose=True).source
    assert "gx = gy * (1 - y^2)" in verbose and "tape %" in verbose


def test_backward_view_nodes_are_vjps_and_edges_point_to_input_gradients():
    loss, W, U, xs, _ = lstm(T=2)
    nodes, edges, clusters = parse(viz.draw(loss, view="backward").source)
    assert clusters == ["t=0", "t=1"]
    vjps = [k for k in nodes if k.startswith("o")]
    assert len(vjps) == len(tg.tape(loss))
    assert any("tanh backward: gx = gy * (1 - y^2)" in nodes[k][1] and "saved: y (2, 4)" in nodes[k][1]
               for k in vjps)
    seed = node_named(nodes, "start of backward")
    top = [b for a, b, _ in edges if a == seed]
    assert len(top) == 1 and "sum backward" in nodes[top[0]][1]
    # from the sum's VJP to the square's VJP: output gradient -> input gradients
    below = [b for a, b, _ in edges if a == top[0]]
    assert len(below) == 1 and "mul backward" in nodes[below[0]][1]
    # parameters get an accumulation node fed by every step; inputs get none
    acc_w = node_named(nodes, "accumulate W.grad")
    assert {nodes[a][0] for a, b, _ in edges if b == acc_w} == {"t=0", "t=1"}
    assert not any("x0" in attrs and "accumulate" in attrs for _, attrs in nodes.values())
    assert sum(1 for _, b, _ in edges if b == acc_w) == 2


def test_nested_scopes_use_their_first_component():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x
    for t in range(2):
        with tg.scope(f"t={t}"):
            with tg.scope("gates"):
                a = h.sigmoid()
            h = a * h
    _, _, clusters = parse(viz.draw(h.sum()).source)
    assert clusters == ["t=0", "t=1"]


# ------------------------------------------------------------------ rolled view

def test_rolled_view_collapses_identical_steps_into_one_box_labelled_x_T():
    loss, *_ = lstm(T=5)
    rolled = viz.draw(loss, rolled=True).source
    nodes, edges, clusters = parse(rolled)
    assert clusters == ["t=0"]
    assert "t=0 .. t=4   x 5" in rolled
    assert len([k for k in nodes if k.startswith("o")]) == OPS_PER_STEP + 2
    recurrent = [e for e in edges if "next step" in e[2]]
    assert len(recurrent) == 2                   # h_{t-1} and c_{t-1} feed the next step
    unrolled = parse(viz.draw(loss).source)[2]
    assert len(unrolled) == 5 and "x 5" not in viz.draw(loss).source


def test_rolled_view_keeps_different_steps_apart():
    x = tg.Tensor([0.5, -0.5], requires_grad=True)
    h = x
    for t in range(4):
        with tg.scope(f"t={t}"):
            h = (h * 0.9).tanh() if t < 3 else (h * 0.9).sigmoid()
    rolled = viz.draw(h.sum(), rolled=True).source
    assert parse(rolled)[2] == ["t=0", "t=3"]
    assert "t=0 .. t=2   x 3" in rolled


# ------------------------------------------------------------------ gradients

def _palette_in(source: str) -> bool:
    return any(colour in source for colour in PALETTE)


def test_gradient_colours_absent_before_backward_and_present_after():
    loss, W, U, xs, _ = lstm(T=3)
    before = viz.draw(loss, gradients=True).source
    assert not _palette_in(before) and "||g||" not in before
    assert "no gradients yet" in before
    loss.backward(retain_graph=True)
    assert not _palette_in(viz.draw(loss).source)          # only when asked for
    after = viz.draw(loss, gradients=True).source
    assert _palette_in(after) and "legend" in after
    nodes, _, _ = parse(after)
    coloured = [k for k, (_, attrs) in nodes.items() if fill(attrs) in PALETTE]
    assert len(coloured) >= len(tg.tape(loss))               # every intermediate and W, U
    assert fill(nodes[node_named(nodes, "W  (parameter)")][1]) in PALETTE
    assert fill(nodes[node_named(nodes, "x0  (input)")][1]) not in PALETTE   # no gradient
    assert after.count("||dL/dh_t|| = ") == 3                 # one per time-step cluster
    w_norm = float(np.linalg.norm(W.grad.numpy()))
    assert f"||g|| = {w_norm:.3g}" in nodes[node_named(nodes, "W  (parameter)")][1]


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_nan_gradient_is_drawn_red():
    loss, W, U, xs, _ = lstm(T=2)
    loss.backward(retain_graph=True)
    nodes, _, _ = parse(viz.draw(loss, gradients=True).source)
    assert not any(fill(attrs) == BAD_COLOUR for _, attrs in nodes.values())
    W.grad.data[0, 0] = float("nan")                          # injected NaN
    nodes, _, _ = parse(viz.draw(loss, gradients=True).source)
    assert fill(nodes[node_named(nodes, "W  (parameter)")][1]) == BAD_COLOUR
    assert fill(nodes[node_named(nodes, "U  (parameter)")][1]) != BAD_COLOUR
    # a NaN made by the computation itself: sqrt at 0 has an infinite derivative
    x = tg.Tensor([0.0, 1.0], requires_grad=True, name="x")
    y = x.sqrt().sum()
    nodes, _, _ = parse(viz.draw(y, gradients="compute").source)
    assert fill(nodes[node_named(nodes, "x  (parameter)")][1]) == BAD_COLOUR


def test_grad_norms_by_step_match_retained_gradients():
    loss, W, U, xs, states = lstm(T=4)
    norms = viz.grad_norms_by_step(loss)
    assert list(norms) == [0, 1, 2, 3]
    for h in states:
        h.retain_grad()
    loss.backward()
    expected = [float(np.linalg.norm(h.grad.numpy())) for h in states]
    assert np.allclose(list(norms.values()), expected, rtol=1e-5)
    assert W.grad is not None


# ------------------------------------------------------------------ cuts

def test_truncated_bptt_cut_is_drawn_dashed_and_stops_the_gradient():
    U = tg.Tensor(np.eye(3, dtype="float32") * 0.5, requires_grad=True, name="U")
    h = tg.zeros(1, 3)
    for t in range(4):
        if t == 2:
            h = viz.cut(h)
        with tg.scope(f"t={t}"):
            h = (h @ U + 1.0).tanh()
    loss = h.sum()
    cuts = [t for t in tg.graph_tensors(loss) if viz.is_cut(t)]
    assert len(cuts) == 1 and cuts[0].shape == (1, 3) and not viz.is_cut(U)
    forward = viz.draw(loss).source
    nodes, edges, clusters = parse(forward)
    assert clusters == ["t=2", "t=3"]
    key = node_named(nodes, "cut: detached (truncated BPTT)")
    assert "dashed" in nodes[key][1] and nodes[key][0] == "t=2"
    assert any(b == key and "dashed" in attrs for a, b, attrs in edges)
    backward = viz.draw(loss, view="backward").source
    assert "gradient stops" in backward and "no gradient flows past here" in backward
    with pytest.raises(ValueError, match="only a leaf"):
        viz.mark_cut(loss)
    plain = tg.Tensor([1.0])
    assert not viz.is_cut(plain) and viz.is_cut(viz.mark_cut(plain))


# ------------------------------------------------------------------ frames

def test_frames_step_through_backward_one_node_at_a_time():
    loss, W, U, xs, _ = lstm(T=2)
    frames = list(viz.frames(loss))
    assert len(frames) == len(tg.tape(loss))
    coloured = []
    for k, frame in enumerate(frames):
        source = frame.source
        assert source.count('penwidth="5"') == 1                      # the node being processed
        assert f"backward step {k + 1} of {len(frames)}" in source
        nodes, _, _ = parse(source)
        coloured.append(sum(1 for _, attrs in nodes.values() if fill(attrs) in PALETTE))
    first = parse(frames[0].source)[0]
    assert "sum backward" in [attrs for attrs in first.values() if 'penwidth="5"' in attrs[1]][0][1]
    assert coloured == sorted(coloured) and coloured[0] < coloured[-1]
    assert W.grad is None and U.grad is None                            # nothing accumulated
    loss.backward()                                                     # the graph is intact
    assert W.grad is not None


def test_write_frames_numbers_the_files(tmp_path, monkeypatch):
    x = tg.Tensor([0.5, 2.0], requires_grad=True, name="x")
    y = (x.tanh() * x).sum()
    target = tmp_path / "frames"
    if render_module.dot_path() is not None:
        paths = viz.write_frames(y, target, format="svg")
        assert [p.name for p in paths] == [f"frame_{k:04d}.svg" for k in range(3)]
        assert all("<svg" in p.read_text() for p in paths)
    monkeypatch.setattr(render_module, "dot_path", lambda: None)
    monkeypatch.setattr("tinygrad_rnn.viz.stepthrough.dot_path", lambda: None)
    with pytest.raises(viz.GraphvizNotFound, match="apt-get install graphviz"):
        viz.write_frames(y, tmp_path / "nodot")
    assert sorted(p.name for p in (tmp_path / "nodot").iterdir()) == [
        f"frame_{k:04d}.dot" for k in range(3)]


# ------------------------------------------------------------------ rendering

@needs_dot
def test_render_svg_writes_only_the_file_asked_for(tmp_path):
    loss, *_ = lstm(T=2)
    path = viz.render(viz.draw(loss, gradients="compute"), tmp_path / "lstm.svg")
    assert path == tmp_path / "lstm.svg"
    text = path.read_text()
    assert "<svg" in text and "cluster_t=0" in text.replace("&#45;", "-").replace("&#61;", "=")
    assert viz.render(viz.draw(loss), tmp_path / "rolled", format="png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm.svg", "rolled.png"]
    with pytest.raises(ValueError, match="ends in .svg"):
        viz.render(viz.draw(loss), tmp_path / "x.svg", format="pdf")
    with pytest.raises(ValueError, match="cannot tell the format"):
        viz.render(viz.draw(loss), tmp_path / "x.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm.svg", "rolled.png"]


def test_render_without_dot_writes_the_source_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module, "dot_path", lambda: None)
    y = (tg.Tensor([1.0], requires_grad=True) * 2.0).sum()
    with pytest.raises(viz.GraphvizNotFound, match="brew install graphviz"):
        viz.render(viz.draw(y), tmp_path / "graph.svg")
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")


# ------------------------------------------------------------------ limits and speed

def test_max_nodes_raises_a_clear_error():
    loss, *_ = lstm(T=3)
    boxes = 2 * (3 * OPS_PER_STEP + 2) + 7       # an op and a tensor per entry, 7 leaves
    with pytest.raises(ValueError, match=rf"has {boxes} nodes to draw .* max_nodes=50; "
                                         rf"pass max_nodes={boxes} .*rolled=True"):
        viz.draw(loss, max_nodes=50)
    assert len(parse(viz.draw(loss, max_nodes=boxes).source)[0]) == boxes
    viz.draw(loss, max_nodes=50, rolled=True)   # rolled, it fits


def test_20000_node_graph_draws_in_linear_time():
    w = tg.Tensor([0.5, -0.25], requires_grad=True, name="w")
    h = tg.zeros(2)
    for t in range(5000):
        with tg.scope(f"t={t}"):
            h = (h * w + 0.1).tanh().sin()
    loss = h.sum()
    assert len(tg.tape(loss)) == 20001
    start = time.perf_counter()
    source = viz.draw(loss, max_nodes=None).source
    seconds = time.perf_counter() - start
    assert source.count("subgraph") == 5000
    assert seconds < 10, f"drawing 20,000 ops took {seconds:.1f} s"   # bench: about 0.5 s


# ------------------------------------------------------------------ no side effects

def _snapshot(loss, tensors):
    tape = str(tg.tape(loss))
    inputs = [(t._node, t._node.inputs) for t in tg.graph_tensors(loss) if t._node is not None]
    grads = [None if t.grad is None else t.grad.numpy().copy() for t in tensors]
    flags = [t._retains_grad for t in tensors]
    return tape, inputs, grads, flags


def _same(a, b):
    assert a[0] == b[0]
    assert all(n1 is n2 and i1 is i2 for (n1, i1), (n2, i2) in zip(a[1], b[1]))
    assert len(a[1]) == len(b[1])
    for g1, g2 in zip(a[2], b[2]):
        assert (g1 is None) == (g2 is None)
        if g1 is not None:
            assert np.array_equal(g1, g2, equal_nan=True)
    assert a[3] == b[3]


def _draw_everything(loss):
    for view in ("forward", "backward"):
        for rolled in (False, True):
            viz.draw(loss, view=view, rolled=rolled, gradients=True, show_values=True,
                     verbose=True).source
            viz.draw(loss, view=view, rolled=rolled, gradients="compute").source
    for frame in viz.frames(loss):
        frame.source
    viz.grad_norms_by_step(loss, state="all")


def test_drawing_never_changes_the_graph_or_the_gradients():
    loss, W, U, xs, states = lstm(T=3)
    states[1].retain_grad()
    tracked = [W, U, states[1]] + xs
    before = _snapshot(loss, tracked)
    _draw_everything(loss)
    _same(before, _snapshot(loss, tracked))
    assert W.grad is None and states[1].grad is None

    loss.backward(retain_graph=True)
    once = _snapshot(loss, tracked)
    _draw_everything(loss)
    _same(once, _snapshot(loss, tracked))
    loss.backward()                                  # a second backward still works ...
    assert np.allclose(W.grad.numpy(), 2 * once[2][0], rtol=1e-5)   # ... and adds the same
    assert np.allclose(states[1].grad.numpy(), 2 * once[2][2], rtol=1e-5)


def test_a_freed_graph_is_drawn_as_freed_and_says_how_to_keep_it():
    x = tg.Tensor([0.5, 2.0], requires_grad=True, name="x")
    y = (x.tanh() * 3.0).sum()
    y.backward()
    source = viz.draw(y, gradients=True).source
    assert "freed by backward" in source
    with pytest.raises(tg.BackwardError, match="retain_graph=True"):
        viz.grad_norms_by_step(y)
    nodes, _, _ = parse(source)
    # sum saved nothing, so it keeps its edge (a second backward through it works, as torch);
    # the walk stops at mul, whose saved inputs were freed
    assert sorted(nodes) == ["legend", "o0", "o1", "t0", "t1"]
    assert "backward freed this graph" in nodes["legend"][1]
    assert "no gradients yet" not in source
