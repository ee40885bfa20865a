"""One self-contained HTML page to step through and poke at a graph: ``viz.html(loss)``.

The page works offline (no CDN, no server, a Content-Security-Policy that forbids every
request): each view is laid out ONCE by Graphviz's ``dot`` and embedded as SVG; a small
hand-written script (``html_viewer.js`` and ``html_viewer.css`` next to this file, package data) zooms and pans,
steps through the backward pass (and the forward pass, in tape order) by recolouring and
highlighting boxes of that fixed layout, and shows what is known about any tensor clicked.

The numbers come from the engine: one private backward (``trace_backward``, the observer the
step-through frames use) records, for every VJP in the order backward runs them, the gradient
that came in (gy) and what it sent to each input. The user's graph and ``.grad`` are unchanged.
"""
from __future__ import annotations

import html as _html
import json
import math
import os
import re
import subprocess
from pathlib import Path

from ..edges import values_freed
from ..tensor import Tensor
from . import labels as L
from .attention_maps import attention_data
from .build import Options, build, count
from .cells import _block, _loss_tail, _projection, _safe, fold_cells
from .dot import INSTALL, GraphvizNotFound, dot_path
from .emit import emit
from .gradients import Scale, norm, norms_of, seed_norm, state_parts, trace_backward
from .model import Graph
from .roll import roll

FULL = 16           # tensors of at most this many elements are shown in full
ASSETS = Path(__file__).parent

# (name, button text, view, detail, rolled); the recurrent-only views need time steps
VIEWS = [("forward", "forward, ops", "forward", "op", False),
         ("backward", "backward, VJPs", "backward", "op", False),
         ("cell", "forward, cells", "forward", "cell", False),
         ("rolled", "forward, rolled", "forward", "op", True)]


class Page:
    """The viewer: ``.save(path)`` writes the file; in Jupyter it shows itself inline."""

    def __init__(self, text: str, title: str):
        self.text = text
        self.title = title

    def save(self, path) -> Path:
        path = Path(os.fspath(path))
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"viz.html: save to a file named .html, not {str(path)!r}")
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's ids, styles and policy apart from the notebook's
        return (f'<iframe srcdoc="{_html.escape(self.text, quote=True)}" title="{_html.escape(self.title)}" '
                'style="width:100%;height:640px;border:1px solid #ccc"></iframe>')

    def __str__(self) -> str:
        return self.text

    def __len__(self) -> int:
        return len(self.text.encode("utf-8"))


def html(output, path=None, title: str | None = None, views=None, max_nodes: int | None = 3000,
         timeout: float | None = 120, attention=None, tokens=None) -> Page:
    """The interactive viewer of the graph behind ``output`` (a Tensor or a list of them).

    Views (buttons in the page): ``"forward"`` (ops, unrolled), ``"backward"`` (one box per VJP),
    and for recurrent graphs (``tg.scope`` time steps) ``"cell"`` (one box per cell step) and
    ``"rolled"`` (identical steps drawn once); ``views=`` picks some. The slider steps through the
    backward pass (the VJP running is outlined orange, the panel shows gy, the formula, the saved
    tensors it reads and what it sends to each input; boxes reached are coloured by
    log10 ||gradient||) or the forward pass (tape order). Clicking a box shows its tensor: shape,
    dtype, name, values, gradient and, for a parameter, the terms its gradient was summed from.

    Attention weights get a panel: a heat map per layer x head (click one to see it large,
    every weight on hover). ``attention=`` takes what the models return with need_weights:
    GPT's or BERT's list of per-layer (B, heads, T, T), a Transformer layer's (B, [heads,]
    L, S), a decoder stack's [(self, cross), ...], a seq2seq model's (B, m-1, n), or a dict
    of such lists by name (``TransformerSeq2Seq.attention_maps``); the first sequence of the
    batch is shown. Without it the page shows the tensors named ``a_ij`` in the graph (the
    attention softmax of every model here), and clicking one's box selects its map;
    ``attention=False`` shows none. ``tokens=`` labels the axes: a list (or a string, one
    token per character) for every axis of its length, a pair of lists (query tokens, key tokens),
    or a dict of either by group name.
    With ``path``, also writes the file. Needs Graphviz's ``dot``."""
    graph = Graph(output)
    if dot_path() is None:
        raise GraphvizNotFound(f"viz.html: {INSTALL}")
    names = [v[0] for v in VIEWS] if views is None else list(views)
    known = {v[0]: v for v in VIEWS}
    for name in names:
        if name not in known:
            raise ValueError(f"viz.html: views must be some of {', '.join(known)}, not {name!r}")
    if not graph.steps:
        names = [n for n in names if n in ("forward", "backward")] or ["forward"]
    boxes = count(graph, "backward") + count(graph, "forward")
    if max_nodes is not None and boxes > max_nodes:
        raise ValueError(f"viz.html: the graph has {boxes:,} boxes in its two views, more than "
                         f"max_nodes={max_nodes:,}; pass max_nodes=None to lay it out anyway")
    title = title or "tinygrad_rnn graph"
    data = _record(graph)
    maps = attention_data(attention, tokens, graph)
    if maps is not None:
        data["attention"] = maps
    sources = []
    data["views"] = []
    from . import default_rankdir
    for name in names:
        _, label, view, detail, rolled = known[name]
        drawing = build(graph, view, Options(True, False, False))
        if detail == "cell":
            drawing = fold_cells(drawing, graph)
        if rolled:
            drawing = roll(drawing, graph)
        sources.append(emit(drawing, default_rankdir(graph, view)).source)
        data["views"].append({"name": name, "label": label,
                              "items": _items(drawing, graph, detail == "cell")})
    svgs = list(zip(names, _layouts(sources, timeout)))
    page = Page(_page(title, data, svgs), title)
    if path is not None:
        page.save(path)
    return page


def fmt(value) -> str:
    """A number as the page shows it: 6 significant digits."""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def summary(array) -> dict:
    """What the page shows of an array: every value when small, else min/mean/max; the norm."""
    data = array.get() if hasattr(array, "get") else array      # CuPy: to the host
    out = {"shape": list(data.shape), "norm": fmt(norm(data)) if data.dtype.kind in "fciub" else "-"}
    if data.dtype.kind == "b":
        data = data.astype("int8")
    if data.size <= FULL:
        out["full"] = [fmt(v) for v in data.reshape(-1).tolist()]
    elif data.size:
        d = data.astype("float64")
        out.update(min=fmt(d.min()), mean=fmt(d.mean()), max=fmt(d.max()))
    return out


def _describe(t: Tensor, kind: str, step, index: dict) -> dict:
    node = t._node
    info = {"name": t.name or "", "brief": L.brief(t, kind), "kind": kind,
            "shape": list(t.shape), "dtype": str(t.dtype), "step": step or "",
            "value": {"shape": list(t.shape), "norm": "-", "freed": True} if values_freed(t)
            else summary(t.data)}
    if node is not None:
        info.update(op=node.name, extra=node.extra_repr(), formula=node.formula or "",
                    seq=node.seq, scope=node.scope or "")
        if node.inputs is not None:      # [role, tensor index] or [role, a number's repr]
            info["inputs"] = [[role, index[id(x)]] if isinstance(x, Tensor) else [role, repr(x)]
                              for role, x in zip(L.roles(node), node.inputs)]
    return info


def _record(graph: Graph) -> dict:
    """Everything the page shows, from one private backward."""
    index = graph.index
    tensors = [_describe(t, graph.kind(t), graph.step_name.get(id(t)), index)
               for t in graph.tensors]
    events = []
    terms: dict = {}          # leaf index -> [(backward step, norm, summary)]
    summed: dict = {}

    def on_step(y, gy, sent):
        node = y._node
        updates = [(index[id(y)], norm(gy.data))]
        summed.pop(id(y), None)
        sends, saved = [], []
        for role, x, gx in zip(L.roles(node), node.inputs, sent):
            if not isinstance(x, Tensor):
                continue
            j = index[id(x)]
            if node.saves_inputs:
                saved.append({"role": role, "tensor": j})
            if gx is None or not x.requires_grad:
                sends.append({"role": role, "to": j, "none": True})
                continue
            before = summed.get(id(x))
            total = gx.data if before is None else before + gx.data
            summed[id(x)] = total
            updates.append((j, norm(total)))
            part = summary(gx.data)
            sends.append({"role": role, "to": j, "grad": part})
            if x._node is None:
                terms.setdefault(j, []).append({"k": len(events), "grad": part})
        if node.uses_output:
            saved.append({"role": "y", "tensor": index[id(y)]})
        events.append({"node": index[id(y)], "gy": summary(gy.data), "sends": sends,
                       "saved": saved, "updates": updates})

    grads = trace_backward(graph, on_step)
    summed.clear()
    seeds = [(index[id(t)], math.sqrt(t.data.size)) for t in graph.outputs if t.requires_grad]
    scale = Scale([v for _, v in seeds] + [v for e in events for _, v in e["updates"]],
                  seed_norm(graph))
    for e in events:
        e["updates"] = [[j, fmt(v)] + list(scale.colour(v) or ("#ffffff", "black"))
                        for j, v in e["updates"]]
    for t, info in zip(graph.tensors, tensors):
        g = grads.get(id(t))
        if g is not None:
            info["grad"] = summary(g.data)
    for j, found in terms.items():
        tensors[j]["terms"] = found
    norms = norms_of(grads)
    first_event = {}
    for k, e in enumerate(events):
        first_event.setdefault(e["node"], k)
    bars = []
    for step in graph.steps:
        parts = state_parts(step)
        if not parts:
            continue
        name, key = parts[0]
        tensor_id = key[0] if isinstance(key, tuple) else key
        value = norms.get(key)
        bars.append({"step": step.name, "state": name, "tensor": index.get(tensor_id),
                     "norm": None if value is None else fmt(value),
                     "at": first_event.get(index.get(tensor_id), 0)})
    forward = [index[id(t)] for t in graph.entries]
    return {"tensors": tensors, "events": events, "forward": forward, "bars": bars,
            "seeds": [[j, fmt(v)] + list(scale.colour(v) or ("#ffffff", "black")) for j, v in seeds],
            "legend": [[text, fill, font] for text, fill, font in scale.legend()],
            "scale_title": scale.title()}


def _items(drawing, graph: Graph, cells: bool) -> dict:
    """tensor index -> the ids of the boxes that stand for it in one view."""
    index = graph.index
    found: dict = {}
    for item in drawing.items.values():
        for key in item.grads:
            if key in index:
                found.setdefault(index[key], []).append(item.id)
    if cells:                 # a cell box lists only its h_t: map every op folded into it
        tail, projection = _loss_tail(graph), _projection(graph)
        for t in graph.entries:
            i = index[id(t)]
            if i in found:
                continue
            step = graph.step_name.get(id(t))
            box = ("c_" + _safe(step + "/" + _block(t._node.scope)) if step is not None else
                   "c_loss" if id(t) in tail else "c_projection" if id(t) in projection else None)
            if box in drawing.items:
                found[i] = [box]
    return found


_TITLED = re.compile(r'<g id="[a-z]+\d+" class="(\w+)">\s*<title>(.*?)</title>', re.S)


def _layouts(sources: list, timeout) -> list:
    """Lay each DOT source out with ``dot`` once, the views in parallel (one process each);
    the SVG elements, boxes tagged with their ids."""
    runs = [subprocess.Popen([dot_path(), "-Tsvg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in sources]
    outputs = []
    try:
        for run, source in zip(runs, sources):
            try:
                out, err = run.communicate(source.encode("utf-8"), timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"viz.html: dot took more than {timeout} s to lay the graph out; "
                                   "draw fewer time steps, pick views=['rolled', 'cell'], or pass "
                                   "timeout=None") from None
            if run.returncode != 0:
                message = err.decode("utf-8", "replace").strip()
                raise RuntimeError(f"viz.html: dot failed with exit status {run.returncode}: "
                                   f"{message[:2000]}")
            outputs.append(_tagged(out.decode("utf-8")))
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return outputs


def _tagged(svg: str) -> str:
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    # the ids become data-id (a hover tooltip of "t12" helps nobody; ids repeat across views)
    return _TITLED.sub(lambda m: f'<g class="{m.group(1)}" data-id="{m.group(2)}">', svg)


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _page(title: str, data: dict, svgs: list) -> str:
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    views = "\n".join(f'<div class="view" id="view-{name}" data-name="{name}">{svg}</div>'
                      for name, svg in svgs)
    head = _html.escape(title)
    shown = "attention" in data          # the attention panel's script and style only when used
    attention_style = _asset("html_attention.css") if shown else ""
    attention_panel = '<section id="attention-panel"></section>' if shown else ""
    attention_script = f"\n<script>{_asset('html_attention.js')}</script>" if shown else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{head}</title>
<style>{_asset("html_viewer.css")}{attention_style}</style>
</head><body>
<header><b>{head}</b>
<span id="views"></span>
<span class="pass"><label><input type="radio" name="pass" value="backward" checked> backward pass</label>
<label><input type="radio" name="pass" value="forward"> forward pass</label></span>
<button id="first" title="to the start">|&lt;</button><button id="prev" title="one step back">&lt;</button>
<button id="play" title="play / pause">play</button><button id="next" title="one step on">&gt;</button>
<button id="last" title="to the end">&gt;|</button>
<input type="range" id="slider" min="0" value="0"> <span id="counter"></span>
<button id="fit" title="fit the graph to the window">fit</button>
<label title="zoom and pan to the box of each step"><input type="checkbox" id="follow" checked> follow</label>
</header>
<main><div id="graph">{views}</div>
<aside><section id="step-panel"></section><section id="tensor-panel"><p class="hint">click or
hover a box to see its tensor</p></section><section id="bars-panel"></section>
{attention_panel}<section id="legend"></section></aside></main>
<script type="application/json" id="viz-data">{payload}</script>
<script>{_asset("html_viewer.js")}</script>{attention_script}
</body></html>
"""
