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
            c = (f * c + i * g).named("c_t")
            h = (o * c.tanh()).named("h_t")
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


def is_leaf(attrs: str) -> bool:
    """An input or a parameter box (by its fill colour)."""
    return fill(attrs) in ("#e8e8e8", "#cfe3ff")


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
    # an op and its output are one box: one per tape entry, plus the leaves
    assert not [k for k in nodes if k.startswith("o")]
    leaves = 2 + 3 + 2                          # W, U, x0..x2, h0, c0
    assert len([k for k in nodes if k.startswith("t")]) == entries + leaves
    for step in range(3):
        inside = [k for k, (c, attrs) in nodes.items() if c == f"t={step}" and not is_leaf(attrs)]
        assert len(inside) == OPS_PER_STEP
    split = parse(viz.draw(loss, split_ops=True).source)[0]
    assert len([k for k in split if k.startswith("o")]) == entries     # ops drawn apart
    assert len(split) == 2 * entries + leaves                        # about twice the boxes
    # shared weights: drawn once, outside every cluster, with an arrow into every step
    for name in ("W", "U"):
        key = node_named(nodes, f"{name}  (parameter)")
        assert nodes[key][0] is None
        assert "filled,bold" in nodes[key][1]
        targets = {nodes[b][0] for a, b, _ in edges if a == key}
        assert targets == {"t=0", "t=1", "t=2"}
    # an input read by one step only sits inside that step
    assert nodes[node_named(nodes, "x1  (input)")][0] == "t=1"
    # shapes are shown, dtype and device only when asked for; the output is marked
    assert sum("(2, 16)" in attrs for _, attrs in nodes.values()) == 3 * 3
    assert "float32" not in viz.draw(loss).source
    assert viz.draw(loss, show_dtype=True).source.count("(2, 16) float32 cpu") == 3 * 3
    assert nodes[node_named(nodes, '(output)')][0] is None


def test_show_shapes_values_and_verbose_change_the_labels():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    big = tg.Tensor(np.arange(20, dtype="float32"), name="big")
    y = ((x * 2.0).sum() * big).tanh().mean()
    plain = viz.draw(y).source
    assert "(3,)" in plain and "[1, 2, 3]" not in plain
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
    assert len([k for k, (_, attrs) in nodes.items() if k.startswith("t") and not is_leaf(attrs)
                ]) == OPS_PER_STEP + 2
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
    boxes = (3 * OPS_PER_STEP + 2) + 7           # one box per entry (op and output), 7 leaves
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
    # the walk stops at mul, whose saved inputs were freed (each an op and its output in one box)
    assert sorted(nodes) == ["legend", "t0", "t1"]
    assert "backward freed this graph" in nodes["legend"][1]
    assert "no gradients yet" not in source


# ------------------------------------------------------------------ the numbers (issue 13)

def hand_rnn(T=3, seed=0):
    """A vanilla RNN written by hand: y_t = h_t V is read by the loss, h_t by the next step."""
    rng = np.random.default_rng(seed)
    W = tg.Tensor(rng.normal(0, 0.6, (H, H)), dtype="float32", requires_grad=True, name="W_hh")
    V = tg.Tensor(rng.normal(0, 0.6, (H, 2)), dtype="float32", requires_grad=True, name="V")
    h = tg.zeros(1, H, name="h_0")
    states, loss = [], 0.0
    for t in range(T):
        with tg.scope(f"t={t}"):
            x = tg.Tensor(rng.normal(size=(1, H)), dtype="float32", name="x_t")
            h = (x + h @ W).tanh().named("h_t")
            y = (h @ V).named("y_t")
        states.append(h)
        loss = loss + (y * y).sum()
    return loss, W, V, states


def retained_norms(loss, states):
    for h in states:
        h.retain_grad()
    loss.backward(retain_graph=True)
    return [float(np.linalg.norm(h.grad.numpy())) for h in states]


def test_step_norms_are_those_of_the_recurrent_state_not_of_y_t():
    loss, W, V, states = hand_rnn()
    norms = viz.grad_norms_by_step(loss)
    expected = retained_norms(loss, states)
    assert np.allclose(list(norms.values()), expected, rtol=1e-5)
    assert len(set(round(v, 6) for v in expected)) == 3      # three different numbers
    source = viz.draw(loss, gradients=True).source
    for value in expected:
        assert f"||dL/dh_t|| = {value:.3g}" in source


def _states_named(loss, name):
    return [t for t in tg.graph_tensors(loss) if t.name == name]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_step_norms_of_layers_fused_and_composed_match_retained_gradients(kind):
    from tinygrad_rnn import models
    tg.manual_seed(3)
    composed = getattr(models, kind)(3, H, fused=False)
    fused = getattr(models, kind)(3, H, fused=True)
    fused.load_state_dict(composed.state_dict())
    x = tg.randn(4, 1, 3)
    results = {}
    for name, layer in (("composed", composed), ("fused", fused)):
        out, _ = layer(x)
        loss = (out * out).sum()
        results[name] = (viz.grad_norms_by_step(loss), viz.grad_norms_by_step(loss, state="all"),
                         loss)
    loss = results["composed"][2]
    hs = sorted(_states_named(loss, "h_t"), key=lambda t: t._node.seq)
    cs = sorted(_states_named(loss, "c_t"), key=lambda t: t._node.seq)
    for t in hs + cs:
        t.retain_grad()
    loss.backward()
    h_norms = [float(np.linalg.norm(h.grad.numpy())) for h in hs]
    both = h_norms
    if kind == "LSTM":
        both = [float(np.sqrt(np.sum(h.grad.numpy() ** 2) + np.sum(c.grad.numpy() ** 2)))
                for h, c in zip(hs, cs)]
    for name in ("composed", "fused"):
        last, everything, _ = results[name]
        assert list(last) == [0, 1, 2, 3]
        assert np.allclose(list(last.values()), h_norms, rtol=1e-4), name
        if name == "composed" or kind != "LSTM":
            assert np.allclose(list(everything.values()), both, rtol=1e-4), name
    # a fused LSTM step hands on S_t = [h_t; c_t]: its c part is the gradient from step t+1 only
    # (c_t's path through h_t = o tanh(c_t) stays inside the fused step), and says so
    if kind == "LSTM":
        assert "||dL/dc_t (from t+1)||" in viz.draw(results["fused"][2], gradients="compute").source


def test_lstm_steps_are_labelled_with_both_h_t_and_c_t():
    from tinygrad_rnn.models import LSTM
    tg.manual_seed(0)
    for fused in (False, True):
        out, _ = LSTM(3, H, fused=fused)(tg.randn(3, 1, 3))
        source = viz.draw((out * out).sum(), gradients="compute").source
        assert source.count("||dL/dh_t|| = ") == 3 and source.count("||dL/dc_t") == 3


def test_accumulate_boxes_show_the_gradient_not_the_values():
    x = tg.Tensor([[1.0, 2.0]], name="x")
    W = tg.Tensor([[0.5], [0.25]], requires_grad=True, name="W")
    loss = (x @ W).sum()
    loss.backward(retain_graph=True)
    source = viz.draw(loss, view="backward", show_values=True).source
    box = [line for line in source.splitlines() if "accumulate W.grad" in line][0]
    assert "grad [1, 2]" in box and "0.5" not in box and "0.25" not in box


def test_rolled_boxes_list_every_step_and_take_the_colour_of_the_smallest():
    loss, W, V, states = hand_rnn(T=4)
    expected = retained_norms(loss, states)
    rolled = viz.draw(loss, gradients=True, rolled=True).source
    shown = ", ".join(f"{v:.3g}" for v in expected)
    assert f"||dL/dh_t|| per step = {shown}" in rolled
    nodes, _, _ = parse(rolled)
    key = node_named(nodes, "h_t = tanh")
    assert "min .. max over steps" in nodes[key][1] and "(colour: min)" in nodes[key][1]
    assert fill(nodes[key][1]) == viz.Scale(expected + [1.0]).colour(min(expected))[0]


def test_colour_scale_has_a_fixed_meaning_and_never_clamps():
    close = viz.Scale([0.969, 1.03])
    assert close.colour(0.969) != close.colour(1.03)          # two decades apart: 1e-1.., 1e0..
    assert close.colour(0.969) == close.colour(0.5)            # same decade, same colour
    assert close.bins >= 3 and close.low <= -3 + 1             # at least 3 decades shown
    assert "relative to dL/dL = 1" in close.title()
    wide = viz.Scale([1e-12, 1.0])
    assert wide.low == -12 and wide.width == 2                 # 12 decades: 2 per colour
    assert wide.colour(1e-14)[0] not in PALETTE                # outside: its own colour ...
    assert wide.legend()[wide.bins][0] == "outside the scale"  # ... and legend row
    # frames share one scale over every value any frame shows: every box's norm lies in the
    # legend row of its colour (nothing clamped into the lowest colour)
    loss, *_ = hand_rnn(T=3)
    checked = 0
    for frame in viz.frames(loss):
        source = frame.source
        assert "outside the scale" not in source
        rows = {colour: (float(a), float(b)) for colour, a, b in re.findall(
            r'BGCOLOR="(#\w+)"><FONT COLOR="\w+">1e(-?\d+) \.\. 1e(-?\d+)<', source)}
        for _, attrs in parse(source)[0].values():
            value = re.search(r"\|\|g\|\| = ([\d.e+-]+)", attrs)
            if value and fill(attrs) in rows and float(value.group(1)) > 0:
                low, high = rows[fill(attrs)]
                assert low - 1e-9 <= np.log10(float(value.group(1))) <= high + 1e-9, attrs
                checked += 1
    assert checked > 50


# ------------------------------------------------------------------ names

def test_name_on_every_creation_function_and_named():
    made = [tg.zeros(2, name="a"), tg.ones(2, name="a"), tg.full((2,), 3.0, name="a"),
            tg.eye(2, name="a"), tg.arange(3, name="a"), tg.randn(2, name="a"),
            tg.rand(2, name="a"), tg.zeros_like(tg.ones(2), name="a"),
            tg.ones_like(tg.ones(2), name="a"), tg.tensor([1.0], name="a")]
    assert all(t.name == "a" for t in made)
    x = tg.ones(2, requires_grad=True, name="x")
    h = (x * 2.0).named("h")
    assert h.name == "h" and (x * 2.0).name is None
    assert "-> h" in str(tg.tape(h.sum()))
    with pytest.raises(TypeError, match="named"):
        h.named(3)


def test_cells_tag_their_tensors_with_the_lectures_names():
    from tinygrad_rnn.models import GRUCell, LSTMCell, RNNCell
    tg.manual_seed(0)
    x = tg.randn(1, 3)
    h, c = LSTMCell(3, H)(x)
    tape = str(tg.tape((h + c).sum()))
    for name in ("i_t", "f_t", "g_t", "o_t", "c_t", "h_t"):
        assert f"-> {name}" in tape
    assert "h_0" in tape and "c_0" in tape
    source = viz.draw((h + c).sum()).source
    assert "i_t = sigmoid" in source and "h_t = mul" in source and "c_0  (input)" in source
    assert "float32" not in source
    tape = str(tg.tape(GRUCell(3, H)(x).sum()))
    assert all(f"-> {n}" in tape for n in ("r_t", "z_t", "n_t", "h_t"))
    assert "-> h_t" in str(tg.tape(RNNCell(3, H)(x).sum()))
    backward = viz.draw((h + c).sum(), view="backward").source
    assert "dL/dh_t" in backward and "dL/dc_t" in backward


def test_attention_tags_scores_weights_and_context():
    from tinygrad_rnn.models import AdditiveAttention
    tg.manual_seed(0)
    attention = AdditiveAttention(H, H, H)
    context, weights = attention(tg.randn(1, H), tg.randn(1, 3, H))
    tape = str(tg.tape(context.sum()))
    assert all(f"-> {n}" in tape for n in ("e_ij", "a_ij", "c_i"))


# ------------------------------------------------------------------ layout

def test_recurrent_edges_are_distinct_and_the_cell_state_path_is_bold():
    from tinygrad_rnn.models import LSTMCell
    tg.manual_seed(0)
    cell = LSTMCell(3, H)
    h = c = None
    for t in range(2):
        with tg.scope(f"t={t}"):
            h, c = cell(tg.randn(1, 3), None if h is None else (h, c))
    source = viz.draw((h * h).sum()).source
    assert 'rankdir="LR"' in source or "rankdir=LR" in source           # steps side by side
    nodes, edges, _ = parse(source)
    recurrent = [e for e in edges if "#1f77b4" in e[2]]
    assert sorted(re.search(r'label="([^"]+)"', e[2]).group(1) for e in recurrent) == [
        "c_{t-1}", "h_{t-1}"]
    highway = [(a, b) for a, b, attrs in edges if 'penwidth="3.5"' in attrs]
    c0 = node_named(nodes, "c_0  (input)")
    c1 = [k for k, (cl, attrs) in nodes.items() if cl == "t=0" and "c_t = add" in attrs][0]
    assert any(a == c0 for a, _ in highway) and any(b == c1 for _, b in highway)
    assert any(a == c1 for a, _ in highway)                 # c_t of t=0 into t=1, bold


def test_backward_view_sums_the_two_contributions_to_dL_dh_t():
    loss, W, V, states = hand_rnn(T=3)
    source = viz.draw(loss, view="backward").source
    nodes, edges, _ = parse(source)
    sums = [k for k, (_, attrs) in nodes.items() if "dL/dh_t = sum of 2" in attrs]
    assert len(sums) == 2                      # h_0 and h_1: from y_t and from step t+1
    for k in sums:
        assert len([e for e in edges if e[1] == k]) == 2
        out = [e for e in edges if e[0] == k]
        assert len(out) == 1 and 'label="dL/dh_t' in out[0][2]
    acc = node_named(nodes, "accumulate W_hh.grad")
    assert "dL/dW_hh = sum_t dL/dW_hh|_t  (3 steps)" in nodes[acc][1]
    recurrent = [e for e in edges if "#1f77b4" in e[2]]
    assert len(recurrent) == 2 and all("dL/dh_t" in e[2] for e in recurrent)


# ------------------------------------------------------------------ detail

def five_step_gru():
    from tinygrad_rnn.models import GRU
    tg.manual_seed(0)
    out, _ = GRU(3, H, fused=False)(tg.randn(5, 1, 3))
    return (out[-1] ** 2).sum()


def test_cell_detail_draws_one_box_per_cell_step_and_folds_the_plumbing():
    loss = five_step_gru()
    op_nodes = parse(viz.draw(loss).source)[0]
    nodes, edges, clusters = parse(viz.draw(loss, detail="cell").source)
    cells = [k for k, (_, attrs) in nodes.items() if "GRU cell" in attrs]
    assert len(cells) == 5 and clusters == [f"t={t}" for t in range(5)]
    assert [nodes[k][0] for k in cells] == clusters
    assert "in: h_{t-1}" in nodes[cells[1]][1] and "makes: r_t, z_t, n_t, h_t" in nodes[cells[1]][1]
    assert not any(re.search(r"getitem|reshape|permute|time_slice", attrs)
                   for _, attrs in nodes.values())
    assert len(nodes) < len(op_nodes) / 5
    chain = [(a, b) for a, b, attrs in edges if a in cells and b in cells]
    assert chain == list(zip(cells, cells[1:]))              # h_{t-1} -> step t, in order
    backward = viz.draw(loss, view="backward", detail="cell").source
    assert backward.count("backward of the GRU cell") == 5
    with pytest.raises(ValueError, match="detail must be"):
        viz.draw(loss, detail="gate")


def test_seq2seq_decoder_steps_are_grouped_with_an_attention_block():
    from tinygrad_rnn.models import Seq2Seq
    tg.manual_seed(0)
    model = Seq2Seq(6, 6, embed_size=3, hidden_size=4, fused=False)
    loss = model.loss(tg.tensor([[3, 4, 5]], dtype="int64"), [3],
                      tg.tensor([[1, 3, 4, 2]], dtype="int64"))
    nodes, _, clusters = parse(viz.draw(loss, detail="cell", max_nodes=None).source)
    assert [c for c in clusters if c.startswith("decoder")] == [f"decoder t={t}" for t in (1, 2, 3)]
    for t in (1, 2, 3):
        inside = [attrs for c, attrs in nodes.values() if c == f"decoder t={t}"]
        assert sum("attention  decoder t=" in a for a in inside) == 1
        assert sum("GRU cell  decoder t=" in a for a in inside) == 1
    assert sum("cross-entropy loss" in attrs for _, attrs in nodes.values()) == 1
    assert len(nodes) < 100 < len(parse(viz.draw(loss, max_nodes=None).source)[0])


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def smallest_font(source: str) -> float:
    return min(float(v) for v in re.findall(r'fontsize="?([\d.]+)', source))


def slide_fit(width: int, height: int, font_pt: float = 10.0, dpi: float = 96.0):
    """Scaled to 1920 px wide (never enlarged): (fits a 1920x1080 slide, text height in px);
    dot's PNGs are 96 dpi, so a font of ``font_pt`` points is font_pt * 96 / 72 px tall."""
    scale = min(1.0, 1920 / width)
    return height * scale <= 1080, font_pt * dpi / 72 * scale


@needs_dot
def test_five_step_gru_at_cell_detail_fits_a_slide(tmp_path):
    drawn = viz.draw(five_step_gru(), detail="cell", gradients="compute")
    path = viz.render(drawn, tmp_path / "gru.png")
    width, height = png_size(path)
    fits, text_px = slide_fit(width, height, smallest_font(drawn.source))
    print(f"5-step GRU, detail='cell': {width}x{height} px, text {text_px:.1f} px at 1920 wide")
    assert fits and text_px >= 10, (width, height, text_px)


# ------------------------------------------------------------------ values

def test_show_values_puts_data_and_grad_on_small_tensors():
    x = tg.Tensor([0.5, -1.0], requires_grad=True, name="x")
    y = (x * 3.0).named("y")
    loss = y.sum()
    before = viz.draw(loss, show_values=True).source
    assert "[0.5, -1]" in before and "|" not in before.split("x  (parameter)")[1].split("]")[0]
    loss.backward(retain_graph=True)
    after = viz.draw(loss, show_values=True).source
    assert "[0.5, -1] | [3, 3]" in after and "[1.5, -3] | [1, 1]" in after


@needs_dot
def test_graph_command_draws_the_cell_detail(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "graph", "--cell", "gru",
                           "--steps", "5", "--detail", "cell", "--view", "forward",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    svg = (tmp_path / "graph_forward.svg").read_text()
    assert svg.count("GRU cell") == 5
    bad = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "graph", "--detail", "gate",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--detail" in bad.stderr


# ------------------------------------------------------------------ the README's pictures

README = __import__("pathlib").Path(__file__).resolve().parent.parent / "README.md"
# the largest each may be (width, height in px); the first three were 1816x3515, 1207x3617
# and 840x480 before the lecture layout. The LSTM's two steps stand one below the other
# (3323x693 side by side, 906x2000 stacked: readable at README width, test_viz_layout.py);
# the RNN's backward steps, one after another, went from 1227x2113 to 1019x2507.
LIMITS = {"lstm_two_steps.png": (1000, 2200), "gru_rolled_gradients.png": (2000, 2600),
          "vanishing_gradients.png": (900, 600), "gru_five_steps_cell.png": (2700, 900),
          "rnn_backward.png": (1500, 2700), "seq2seq_cell.png": (4700, 1700)}


@needs_dot
def test_every_picture_named_in_the_readme_is_rendered_and_of_a_sensible_size(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_rnn.viz.pictures import PICTURES
    named = sorted(set(re.findall(r"docs/([\w.]+\.png)", README.read_text())))
    assert named == sorted(PICTURES) == sorted(LIMITS)
    for name in named:
        drawn = PICTURES[name](tmp_path / name)
        width, height = png_size(tmp_path / name)
        boxes = len(parse(drawn.source)[0]) - ("legend" in drawn.source) if drawn else 0
        print(f"{name}: {width}x{height} px, {boxes} boxes")
        assert width <= LIMITS[name][0] and height <= LIMITS[name][1], (name, width, height)
        if name == "gru_five_steps_cell.png":
            fits, text_px = slide_fit(width, height, smallest_font(drawn.source))
            assert fits and text_px >= 10, (width, height, text_px)


def test_gradflow_plot_states_its_settings(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_rnn.viz import vanishing
    text = vanishing.settings_text(32, 1.0)
    assert "hidden size 32" in text and "gate bias +1" in text and "untrained" in text
    assert "trained" in vanishing.settings_text(8, 0.0, trained=True).replace("untrained", "")
    path = vanishing.plot({"rnn": [1e-3, 1e-1, 1.0]}, str(tmp_path / "g.png"), hidden_size=4,
                          gate_bias=0.0)
    assert png_size(tmp_path / "g.png")[0] > 500 and path.endswith("g.png")
