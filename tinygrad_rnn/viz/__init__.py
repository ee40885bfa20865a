"""Drawing the graph: forward and backward views, time steps, gradients, backward step by step.

    import tinygrad_rnn as tg
    from tinygrad_rnn import viz
    g = viz.draw(loss)                              # a graphviz.Digraph (shows itself in Jupyter)
    viz.render(g, "loss.svg")                       # or .png / .pdf, via Graphviz's dot
    viz.draw(loss, view="backward", verbose=True)   # the VJPs backward will run
    loss.backward(retain_graph=True)
    viz.draw(loss, gradients=True)                  # tensors coloured by log10 ||gradient||
    viz.grad_norms_by_step(loss)                    # {0: 1e-5, 1: 3e-4, ...}: ||dL/dh_t|| per step
    viz.draw(loss, detail="cell")                   # one box per cell step: a slide
    viz.draw(loss, memory=prof)                     # each step's bytes saved for backward (tg.profile)
    viz.write_frames(loss, "frames/")               # backward, one picture per step
    viz.html(loss, "loss.html")                     # one offline page: step through, click
    viz.html(loss, "gpt.html", attention=maps, tokens="hello")   # + attention heat maps

Time steps are the ``with tg.scope(f"t={t}"):`` blocks: each is a cluster, side by side in time
order; leaves read by one step only are drawn inside it, shared weights once outside, with an
arrow into every step; the arrow carrying the recurrent state h_{t-1} into step t is blue (an
LSTM's cell-state path bold). Tensors show their names (``name=``, ``t.named("h_t")``; the
models' cells tag i_t, f_t, g_t, o_t, c_t, h_t, r_t, z_t, n_t and attention e_ij, a_ij, c_i).
``detail="cell"`` draws one box per cell step; ``show_values=True`` puts ``data | grad`` on
tensors of at most 8 elements.
``rolled=True`` draws runs of identical steps once ("x T"). A truncated-BPTT cut is recorded
with ``h = viz.cut(h)`` (a ``detach()`` that drawings remember) and drawn dashed red.

Drawing never changes the graph or any gradient: gradients shown are read from ``.grad`` or
recomputed by a private backward (``retain_graph=True, accumulate=False``).

Files: model.py (the graph walk and the time steps), build.py (boxes and arrows of a view),
roll.py (the rolled view), cells.py (the cell level of detail), labels.py (text and styles),
gradients.py (private backward, norms, colour scale), emit.py (to a graphviz.Digraph),
order.py (the same order inside every step, steps one after another), stepthrough.py (frames),
dot.py (rendering with dot), cuts.py (truncated-BPTT cuts), memory.py (a profile's saved bytes
per step on the steps), html.py (the interactive page; html_viewer.js/.css its script and
style), attention_maps.py (the page's attention panel; html_attention.js/.css).
"""
from __future__ import annotations

from . import labels
from . import memory as memory_overlay
from .build import Options, build, count
from .cells import fold_cells
from .cuts import cut, is_cut, mark_cut
from .emit import emit
from .stepthrough import frames, write_frames
from .html import Page, html
from .gradients import (Scale, grad_norms_by_step, gradient_arrays, gradient_norms, norms_of,
                        seed_norm, step_norms, step_state_norms)
from .model import Graph
from .dot import GraphvizNotFound, render
from .roll import roll
from .vanishing import format_table as format_vanishing_table, plot as plot_vanishing, vanishing_gradients

VIEWS = ("forward", "backward")
RANKDIRS = ("TB", "LR", "BT", "RL")


DETAILS = ("op", "cell")


def draw(output, view: str = "forward", rankdir: str | None = None, show_shapes: bool = True,
         show_values: bool = False, verbose: bool = False, max_nodes: int | None = 5000,
         rolled: bool = False, gradients=False, detail: str = "op", show_dtype: bool = False,
         split_ops: bool = False, memory=None):
    """The graph that produced ``output`` (a Tensor or a list of them) as a ``graphviz.Digraph``.

    view: ``"forward"`` (ops and the tensors they make) or ``"backward"`` (one box per VJP
        backward will run, with the tensors it saved; arrows from each output gradient to the
        input gradients it produces, an explicit sum where a gradient gathers several terms).
    detail: ``"op"``: every tape entry (an op and its output in one box, ``h_t = mul``);
        ``"cell"``: one box per cell step (the ops of a time step; a ``tg.scope("attention")``
        inside a step is a block of its own) named by what goes in and out, and the plumbing
        between them (reshape, transpose, slicing, stacking, ...) folded into the arrows.
    rankdir: Graphviz's layout direction, ``"TB"`` (top to bottom), ``"LR"``, ``"BT"``, ``"RL"``.
        By default time steps stand side by side in time order, t=0 on the left: ``"LR"`` for
        the forward view (the recurrent arrow h_{t-1} -> step t points right) and ``"RL"`` for
        the backward view (gradients flow right to left); ``"TB"`` without time steps.
    show_shapes: each tensor's shape (and dtype and device with ``show_dtype=True``).
    show_values: ``data | grad`` of tensors with at most 8 elements (micrograd's boxes; the
        gradient when one is known: ``.grad``, or recomputed when the graph is intact after a
        backward or with ``gradients="compute"``), min / mean / max of larger ones.
    verbose: op boxes also show their VJP formula and tape position.
    max_nodes: refuse (ValueError) to draw more boxes than this; None for no limit.
    rolled: draw runs of identical time steps once, labelled "x T"; each box then lists its
        per-step gradient norms and is coloured by the smallest.
    gradients: ``True`` colours every tensor by log10 of its gradient's norm relative to the
        loss's own gradient (dL/dL = 1; NaN/Inf red) and labels each time step with the norm of
        the gradient of its recurrent state, ||dL/dh_t|| (and ||dL/dc_t||), from what backward
        left: ``.grad`` of leaves and retained tensors, and, if the graph is still intact
        (``backward(retain_graph=True)``), every intermediate's gradient recomputed privately.
        Before any backward there is nothing to colour (the legend says so). ``"compute"``
        recomputes every gradient now, without a prior backward, ignoring ``.grad``.
    split_ops: draw an op and its output tensor as two boxes (the op an ellipse).
    memory: a ``tg.profile`` (or its ``memory_by_step()`` dict) of the forward pass that made
        ``output``: each time-step cluster is labelled with the bytes its ops saved for backward
        (``saved for backward 1.17 KB``), a fused sweep's box with those of each of its steps.
    """
    _check_args(view, rankdir, gradients, detail)
    scopes = None if memory is None else memory_overlay.by_scope(memory)
    graph = Graph(output)
    rankdir = rankdir or default_rankdir(graph, view)
    if not rolled and detail == "op":
        _check_size(count(graph, view, split_ops), max_nodes, graph, "draw")
    grads = {}
    if gradients or show_values:
        grads = gradient_arrays(graph, gradients or True)
    options = Options(show_shapes, show_values, verbose, show_dtype, split_ops, grads)
    drawing = build(graph, view, options)
    if detail == "cell":
        drawing = fold_cells(drawing, graph)
    if rolled:
        drawing = roll(drawing, graph)
    if rolled or detail == "cell":
        _check_size(len(drawing.items), max_nodes, graph, "draw")
    norms = scale = steps = note = None
    if graph.freed:
        note = ("backward freed this graph, so only its last part is drawn: draw before "
                "backward, or call backward(retain_graph=True)")
    if gradients:
        norms = norms_of(grads) or None
        if norms is not None:
            scale = Scale(norms.values(), seed_norm(graph))
            steps = step_state_norms(graph, norms)
            _label_sweeps(drawing, graph)
        elif note is None:
            note = ("no gradients yet: call backward(retain_graph=True) first, "
                    "or draw(..., gradients='compute')")
    step_memory = None
    if scopes is not None:
        step_memory = memory_overlay.by_cluster(scopes)
        _add_to_sweep_boxes(drawing, graph, lambda node: memory_overlay.sweep_text(node, scopes))
    # a cell-level drawing is meant for a slide: larger text
    return emit(drawing, rankdir, norms=norms, scale=scale, step_norms=steps, note=note,
                text_size=12 if detail == "cell" else 10, step_memory=step_memory)


def _label_sweeps(drawing, graph: Graph) -> None:
    """A fused sweep is one box for all its steps: it lists each step's ||dL/dh_t||."""
    def lines_of(node) -> list:
        lines = []
        for step in range(node.steps):
            states = graph.sweep_states.get(node.step_name(step))
            if states:
                lines.append(f"t={step}: " + ", ".join(f"||dL/d{name}|| = {labels.number(value)}"
                                                      for name, value in states))
        return lines
    _add_to_sweep_boxes(drawing, graph, lines_of)


def _add_to_sweep_boxes(drawing, graph: Graph, lines_of) -> None:
    """Append ``lines_of(sweep)`` to the boxes of every fused sweep's output."""
    for t in graph.entries:
        node = t._node
        if not hasattr(node, "note_state_grads"):
            continue
        lines = lines_of(node)
        for item in drawing.items.values():
            if id(t) in item.grads:
                item.lines = list(item.lines) + lines


def default_rankdir(graph: Graph, view: str) -> str:
    """Steps side by side, t=0 on the left, in either view; top to bottom without steps."""
    if not graph.steps:
        return "TB"
    return "LR" if view == "forward" else "RL"


def _check_args(view, rankdir, gradients, detail="op") -> None:
    if view not in VIEWS:
        raise ValueError(f"view must be 'forward' or 'backward', not {view!r}")
    if rankdir is not None and rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    if gradients not in (False, True, "compute"):
        raise ValueError(f"gradients must be False, True or 'compute', not {gradients!r}")
    if detail not in DETAILS:
        raise ValueError(f"detail must be 'op' or 'cell', not {detail!r}")


def _check_size(boxes: int, max_nodes, graph: Graph, caller: str) -> None:
    if max_nodes is not None and boxes > max_nodes:
        hint = " or rolled=True to draw repeated time steps once," if graph.steps and caller == "draw" else ""
        raise ValueError(
            f"{caller}: the graph has {boxes:,} nodes to draw ({len(graph.entries):,} ops, "
            f"{len(graph.leaves):,} leaves), more than max_nodes={max_nodes:,}; pass "
            f"max_nodes={boxes} (or max_nodes=None for no limit) to draw it anyway,{hint} "
            "but Graphviz may take long to lay out a graph this large")


__all__ = ["draw", "render", "frames", "write_frames", "html", "Page", "grad_norms_by_step", "cut", "mark_cut",
           "is_cut", "GraphvizNotFound", "Graph", "Scale", "build", "count", "emit", "roll",
           "gradient_norms", "step_norms", "fold_cells"]
