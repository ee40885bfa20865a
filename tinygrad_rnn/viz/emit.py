"""From a drawing to a ``graphviz.Digraph``: boxes, time-step clusters (each step in the same
internal order, one after another: order.py), gradient colours and their legend, the
highlighted node of a step-through frame.

One pass over the drawing. The DOT statements are written straight into the Digraph's
``body`` (its documented list of verbatim lines) with the attribute text of each style built
once: going through ``Digraph.node``/``edge`` quotes every attribute of every box again and
costs about three times as much on a 20,000-node graph.
"""
from __future__ import annotations

import math

import graphviz

from . import labels as L
from .build import Drawing
from .gradients import Scale
from .memory import cluster_text as memory_text
from .order import one_after_another, place, statements as same_order

HIGHLIGHT = dict(color="#ff7f0e", penwidth="5")
INSIDE_STEP = ' weight=8'   # arrows inside a time step pull harder: steps stay compact
# Arrows from a box shared by several steps (a weight, its accumulated gradient) into the
# steps after the first pull nothing: otherwise each step is dragged towards the weights drawn
# beside the first one, and the steps slide sideways instead of standing in line.
LOOSE = ' weight=0'


def combined(norms: dict, keys) -> float | None:
    """The norm a box that stands for several tensors (a rolled box: one per step) is coloured
    by: the smallest, so that a gradient vanishing in some step shows; NaN/Inf win."""
    value = None
    for k in keys:
        v = norms.get(k)
        if v is None:
            continue
        if math.isnan(v) or math.isinf(v):
            return v
        value = v if value is None else min(value, v)
    return value


def per_step_text(norms: dict, keys) -> list[str]:
    """The lines of a rolled box: each step's ||g|| in time order, and min .. max."""
    values = [norms.get(k) for k in keys]
    shown = [L.number(v) for v in values]
    if len(shown) > 6:
        shown = shown[:3] + ["..."] + shown[-2:]
    known = [v for v in values if v is not None]
    lines = ["||g|| per step: " + ", ".join(shown)]
    if known:
        lines.append(f"min .. max over steps: {L.number(min(known))} .. {L.number(max(known))}"
                     " (colour: min)")
    return lines


def quoted(value) -> str:
    """A DOT attribute value: an HTML-like label as is, anything else double-quoted."""
    text = str(value)
    if text.startswith("<") and text.endswith(">"):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def attributes(attrs: dict) -> str:
    return " ".join(f"{k}={quoted(v)}" for k, v in attrs.items())


def emit(drawing: Drawing, rankdir: str = "TB", norms: dict | None = None,
         scale: Scale | None = None, step_norms: dict | None = None, highlight: str | None = None,
         title: str | None = None, note: str | None = None,
         text_size: int = 10, step_memory: dict | None = None) -> graphviz.Digraph:
    """``text_size``: the font size (points) of the boxes; edge labels are 2 points smaller,
    cluster labels 1 larger. ``step_memory``: {step name: bytes saved for backward} (memory.py),
    written on the step clusters."""
    # remincross="false": dot's last crossing-minimising pass over the whole graph may reorder
    # the boxes inside a cluster against the order order.py fixes there
    graph_attr = dict(rankdir=rankdir, fontname=L.FONT, fontsize=str(text_size + 2), newrank="true",
                      remincross="false", nodesep="0.25", ranksep="0.35")
    if title:
        graph_attr.update(label=L.escape(title), labelloc="t", fontsize=str(text_size + 4))
    g = graphviz.Digraph(f"tinygrad_rnn_{drawing.view}", graph_attr=graph_attr,
                         node_attr=dict(fontname=L.FONT, fontsize=str(text_size), margin="0.08,0.04"),
                         edge_attr=dict(fontname=L.FONT, fontsize=str(text_size - 2),
                                        arrowsize="0.7"))
    body = g.body
    styles = {name: attributes(attrs) for name, attrs in L.STYLE.items()}
    members: dict = {}
    for item in drawing.items.values():
        members.setdefault(item.step, []).append(item)

    def put(indent: str, item) -> None:
        lines = item.lines
        attrs = None
        if norms is not None and item.grads:
            value = combined(norms, item.grads)
            colour = scale.colour(value) if scale is not None else None
            if colour is not None:
                attrs = dict(L.STYLE[item.style])
                attrs["fillcolor"], attrs["fontcolor"] = colour
                if "filled" not in attrs.get("style", ""):
                    attrs["style"] = attrs.get("style", "") + ",filled"
                if len(item.grads) > 1:             # a rolled box: several steps' tensors
                    lines = lines + per_step_text(norms, item.grads)
                else:
                    lines = lines + [f"||g|| = {L.number(value)}"]
        if item.id == highlight:
            attrs = dict(attrs or L.STYLE[item.style], **HIGHLIGHT)
        text = styles[item.style] if attrs is None else attributes(attrs)
        body.append(f"{indent}{item.id} [label={quoted(L.join(lines))} {text}]\n")

    for item in members.pop(None, ()):
        put("\t", item)
    step_of = {item.id: item.step for item in drawing.items.values()}
    inner = _edges_inside(drawing, step_of)
    drawn = []
    for name, steps, label in drawing.clusters:
        inside = [item for step in steps for item in members.get(step, ())]
        if not inside:
            continue
        drawn.append((name, inside))
        text = [label]
        if step_norms is not None:
            text.extend(_step_norm_text([step_norms.get(s) or [] for s in steps]))
        if step_memory is not None:
            text.extend(memory_text([step_memory.get(s) for s in steps]))
        cluster = dict(label=L.join(text), style="rounded,filled", fillcolor="#f6f6f6",
                       color="#9a9a9a", fontname=L.FONT, fontsize=str(text_size + 1),
                       labeljust="l")
        body.append(f"\tsubgraph {quoted('cluster_' + name)} {{\n\t\tgraph [{attributes(cluster)}]\n")
        for item in sorted(inside, key=place):
            put("\t\t", item)
        if len(steps) == 1:        # a rolled cluster is one box per op for all its steps
            body.extend(same_order(inside, inner.get(name, ()), drawing.view == "backward",
                                   rankdir in ("LR", "RL")))
        body.append("\t}\n")
    body.extend(one_after_another(drawn, drawing.edges))

    shared = {}
    loose = _loose_arrows(drawing, step_of)
    for source, target, attrs in drawing.edges:
        text = "" if attrs is None else shared.get(id(attrs))
        if text is None:
            text = " " + attributes(attrs)
            if "label" not in attrs and "xlabel" not in attrs:   # common styles: built once
                shared[id(attrs)] = text
        step = step_of.get(source)
        if step is not None and step == step_of.get(target):
            text += INSIDE_STEP
        elif (source, target) in loose:
            text += LOOSE
        body.append(f"\t{source} -> {target} [{text.strip()}]\n" if text else f"\t{source} -> {target}\n")
    if scale is not None or note:
        body.append(f"\tlegend [label={_legend(scale, note)} shape=plaintext "
                    f"fontsize={text_size - 1}]\n")
    return g


def _loose_arrows(drawing: Drawing, step_of: dict) -> set:
    """The arrows (source, target) between a box outside every step that several steps use (a
    weight, its accumulated gradient) and the steps after the first of them: the first step
    keeps the box beside it, the later ones are not dragged towards it."""
    order = {step: k for k, (_, steps, _) in enumerate(drawing.clusters) for step in steps}
    arrows: dict = {}
    for source, target, _ in drawing.edges:
        a, b = step_of.get(source), step_of.get(target)
        if (a is None) != (b is None):
            box, step = (source, b) if a is None else (target, a)
            arrows.setdefault(box, []).append((order.get(step, 0), source, target))
    loose = set()
    for found in arrows.values():
        first = min(k for k, _, _ in found)
        loose.update((source, target) for k, source, target in found if k != first)
    return loose


def _edges_inside(drawing: Drawing, step_of: dict) -> dict:
    """cluster name -> the arrows with both ends in that cluster (one pass over all arrows)."""
    cluster_of = {step: name for name, steps, _ in drawing.clusters for step in steps}
    inner: dict = {}
    for edge in drawing.edges:
        cluster = cluster_of.get(step_of.get(edge[0]))
        if cluster is not None and cluster == cluster_of.get(step_of.get(edge[1])):
            inner.setdefault(cluster, []).append(edge)
    return inner


def _step_norm_text(states: list) -> list[str]:
    """``||dL/dh_t|| = 0.83`` (and ``||dL/dc_t||`` for an LSTM) for one step, or the values of
    every step of a rolled run in time order."""
    if not states or not states[0]:
        return []
    lines = []
    for k, (name, _) in enumerate(states[0]):
        shown = [L.number(s[k][1]) if k < len(s) else "-" for s in states]
        if len(shown) > 6:
            shown = shown[:3] + ["..."] + shown[-2:]
        label = f"||dL/d{name}||" + (" per step" if len(states) > 1 else "")
        lines.append(f"{label} = " + ", ".join(shown))
    return lines


def _legend(scale: Scale | None, note: str | None) -> str:
    """An HTML-like table: one row per colour of the gradient scale, plus a note."""
    rows = ['<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">']
    if scale is not None:
        title = "<BR/>".join(_html(line) for line in scale.title().split("\n"))
        rows.append(f'<TR><TD BORDER="0"><B>{title}</B></TD></TR>')
        for text, fill, font in scale.legend():
            rows.append(f'<TR><TD BGCOLOR="{fill}"><FONT COLOR="{font}">{_html(text)}</FONT></TD></TR>')
    if note:
        rows.append(f'<TR><TD BORDER="0">{_html(note)}</TD></TR>')
    rows.append("</TABLE>")
    return "<" + "".join(rows) + ">"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
