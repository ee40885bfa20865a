"""Backward, one step at a time: one drawing per tape entry that backward processes.

Each frame highlights the entry whose VJP has just run and colours every tensor by the
gradient accumulated into it so far. The pass is private (``retain_graph=True``,
``accumulate=False``): the user's graph and ``.grad`` values are left as they were.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..tensor import Tensor
from .build import Options, build, count
from .emit import emit
from .gradients import Scale, norm, norms_of, seed_norm, step_state_norms, trace_backward
from .model import Graph
from .dot import GraphvizNotFound, INSTALL, dot_path, output_path, render, source_of


def frames(output, view: str = "backward", rankdir: str | None = None, show_shapes: bool = True,
           show_values: bool = False, verbose: bool = False, max_nodes: int | None = 500):
    """Yield one ``graphviz.Digraph`` per backward step (in the order backward runs them)."""
    from . import _check_args, _check_size, default_rankdir
    _check_args(view, rankdir, False)
    graph = Graph(output)
    rankdir = rankdir or default_rankdir(graph, view)
    _check_size(count(graph, view), max_nodes, graph, "frames")
    drawing = build(graph, view, Options(show_shapes, show_values, verbose))
    index = graph.index
    events = []          # (tape entry's output index, its node, [(tensor id, norm so far)])
    summed: dict = {}    # id(tensor) -> gradient summed so far (arrays)

    def on_step(y, gy, sent):
        summed.pop(id(y), None)            # y's gradient is complete: gy
        updates = list(norms_of({id(y): gy}).items())
        for x, gx in zip(y._node.inputs, sent):
            if gx is not None and isinstance(x, Tensor) and x.requires_grad:
                before = summed.get(id(x))
                total = gx.data if before is None else before + gx.data
                summed[id(x)] = total
                updates.append((id(x), norm(total)))
        events.append((index[id(y)], y._node, updates))

    trace_backward(graph, on_step)
    summed.clear()
    seeds = {id(t): math.sqrt(t.data.size) for t in graph.outputs if t.requires_grad}
    # one scale for every frame, over every value any frame shows: nothing is clamped
    shown = list(seeds.values()) + [v for _, _, updates in events for _, v in updates]
    scale = Scale(shown, seed_norm(graph))
    running = dict(seeds)
    total = len(events)
    for k, (i, node, updates) in enumerate(events):
        running.update(updates)
        where = f"  [{node.scope}]" if node.scope else ""
        title = (f"backward step {k + 1} of {total}: {node.name} backward "
                 f"(tape entry %{i}){where}")
        yield emit(drawing, rankdir, norms=dict(running), scale=scale,
                   step_norms=step_state_norms(graph, running), highlight=f"o{i}", title=title)


def write_frames(output, directory, format: str = "svg", timeout: float | None = None,
                 **options) -> list[Path]:
    """Render every frame of :func:`frames` into ``directory`` (created if missing) as
    ``frame_0000.<format>``, ``frame_0001.<format>``, ...; returns the paths. Nothing is written
    outside ``directory``. ``timeout``: seconds each ``dot`` run may take. Without Graphviz's ``dot``, writes ``frame_NNNN.dot`` files and
    raises :class:`GraphvizNotFound`."""
    directory = Path(directory)
    output_path(directory / "frame", format)          # validates the format
    directory.mkdir(parents=True, exist_ok=True)
    have_dot = dot_path() is not None
    paths = []
    for k, graph in enumerate(frames(output, **options)):
        path = directory / f"frame_{k:04d}.{format}"
        if have_dot:
            paths.append(render(graph, path, format, timeout=timeout))
        else:
            path = path.with_suffix(".dot")
            path.write_text(source_of(graph), encoding="utf-8")
            paths.append(path)
    if not have_dot:
        raise GraphvizNotFound(f"{INSTALL}. The DOT sources were written to {directory}.")
    return paths
