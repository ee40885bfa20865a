"""Drawing the graph: forward and backward views, time steps, gradients, backward step by step.

    import tinygrad_rnn as tg
    from tinygrad_rnn import viz
    g = viz.draw(loss)                              # a graphviz.Digraph (shows itself in Jupyter)
    viz.render(g, "loss.svg")                       # or .png / .pdf, via Graphviz's dot
    viz.draw(loss, view="backward", verbose=True)   # the VJPs backward will run
    loss.backward(retain_graph=True)
    viz.draw(loss, gradients=True)                  # tensors coloured by log10 ||gradient||
    viz.grad_norms_by_step(loss)                    # {0: 1e-5, 1: 3e-4, ...}: ||dL/dh_t|| per step
    viz.write_frames(loss, "frames/")               # backward, one picture per step

Time steps are the ``with tg.scope(f"t={t}"):`` blocks: each is a cluster; leaves read by one
step only are drawn inside it, shared weights once outside, with an arrow into every step.
``rolled=True`` draws runs of identical steps once ("x T"). A truncated-BPTT cut is recorded
with ``h = viz.cut(h)`` (a ``detach()`` that drawings remember) and drawn dashed red.

Drawing never changes the graph or any gradient: gradients shown are read from ``.grad`` or
recomputed by a private backward (``retain_graph=True, accumulate=False``).

Files: model.py (the graph walk and the time steps), build.py (boxes and arrows of a view),
roll.py (the rolled view), labels.py (text and styles), gradients.py (private backward, norms,
colour scale), emit.py (to a graphviz.Digraph), stepthrough.py (frames), dot.py (rendering with dot),
cuts.py (truncated-BPTT cuts).
"""
from __future__ import annotations

from .build import build, count
from .cuts import cut, is_cut, mark_cut
from .emit import emit
from .stepthrough import frames, write_frames
from .gradients import Scale, grad_norms_by_step, gradient_norms, step_norms
from .model import Graph
from .dot import GraphvizNotFound, render
from .roll import roll
from .vanishing import format_table as format_vanishing_table, plot as plot_vanishing, vanishing_gradients

VIEWS = ("forward", "backward")
RANKDIRS = ("TB", "LR", "BT", "RL")


def draw(output, view: str = "forward", rankdir: str = "TB", show_shapes: bool = True,
         show_values: bool = False, verbose: bool = False, max_nodes: int | None = 5000,
         rolled: bool = False, gradients=False):
    """The graph that produced ``output`` (a Tensor or a list of them) as a ``graphviz.Digraph``.

    view: ``"forward"`` (ops and the tensors between them) or ``"backward"`` (one box per VJP
        backward will run, with the tensors it saved; arrows from each output gradient to the
        input gradients it produces).
    rankdir: Graphviz's layout direction, ``"TB"`` (top to bottom), ``"LR"``, ``"BT"``, ``"RL"``.
    show_shapes: shape, dtype and device of each tensor. show_values: the values of tensors
        with at most 8 elements, min / mean / max of larger ones.
    verbose: op boxes also show their VJP formula and tape position.
    max_nodes: refuse (ValueError) to draw more boxes than this; None for no limit.
    rolled: draw runs of identical time steps once, labelled "x T".
    gradients: ``True`` colours every tensor by log10 of its gradient's norm (NaN/Inf red) and
        labels each time step with ||dL/dh_t||, from what backward left: ``.grad`` of leaves and
        retained tensors, and, if the graph is still intact (``backward(retain_graph=True)``),
        every intermediate's gradient recomputed privately. Before any backward there is
        nothing to colour (the legend says so). ``"compute"`` recomputes every gradient now,
        without a prior backward, ignoring ``.grad``.
    """
    _check_args(view, rankdir, gradients)
    graph = Graph(output)
    if not rolled:
        _check_size(count(graph, view), max_nodes, graph, "draw")
    drawing = build(graph, view, show_shapes, show_values, verbose)
    if rolled:
        drawing = roll(drawing, graph)
        _check_size(len(drawing.items), max_nodes, graph, "draw")
    norms = scale = steps = note = None
    if graph.freed:
        note = ("backward freed this graph, so only its last part is drawn: draw before "
                "backward, or call backward(retain_graph=True)")
    if gradients:
        norms = gradient_norms(graph, gradients) or None
        if norms is not None:
            scale = Scale(norms.values())
            steps = step_norms(graph, norms)
        elif note is None:
            note = ("no gradients yet: call backward(retain_graph=True) first, "
                    "or draw(..., gradients='compute')")
    return emit(drawing, rankdir, norms=norms, scale=scale, step_norms=steps, note=note)


def _check_args(view, rankdir, gradients) -> None:
    if view not in VIEWS:
        raise ValueError(f"view must be 'forward' or 'backward', not {view!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    if gradients not in (False, True, "compute"):
        raise ValueError(f"gradients must be False, True or 'compute', not {gradients!r}")


def _check_size(boxes: int, max_nodes, graph: Graph, caller: str) -> None:
    if max_nodes is not None and boxes > max_nodes:
        hint = " or rolled=True to draw repeated time steps once," if graph.steps and caller == "draw" else ""
        raise ValueError(
            f"{caller}: the graph has {boxes:,} nodes to draw ({len(graph.entries):,} ops, "
            f"{len(graph.leaves):,} leaves), more than max_nodes={max_nodes:,}; pass "
            f"max_nodes={boxes} (or max_nodes=None for no limit) to draw it anyway,{hint} "
            "but Graphviz may take long to lay out a graph this large")


__all__ = ["draw", "render", "frames", "write_frames", "grad_norms_by_step", "cut", "mark_cut",
           "is_cut", "GraphvizNotFound", "Graph", "Scale", "build", "count", "emit", "roll",
           "gradient_norms", "step_norms"]
