"""Attention weights for the HTML viewer: ``viz.html(loss, attention=maps, tokens=[...])``.

What the models return with ``need_weights`` is turned into one shape the page draws: groups
(e.g. "encoder", "self", "cross") of layers (rows of the grid) of heads (its columns), each
head one (L queries, S keys) map of the batch's first sequence. Without ``attention=`` the
weights are found in the graph: every tensor named ``a_ij`` (what
``scaled_dot_product_attention``, ``AdditiveAttention`` and ``LuongAttention`` name their
softmax), in tape order; the one-query maps of successive decoder steps (Bahdanau, Luong)
are stacked into one map, a row per step.
"""
from __future__ import annotations

import math

from ..backends import backend_for
from ..edges import values_freed
from ..tensor import Tensor
from .model import Graph

WEIGHTS_NAME = "a_ij"
MAX_WEIGHTS = 1_000_000     # numbers embedded in the page (~10 MB); slice the maps beyond
SHAPES = "(B, heads, L, S), (B, L, S) or (L, S)"
# characters a character model reads, drawn visibly on the axes
VISIBLE = {" ": "\u2423", "\n": "\u21b5", "\t": "\u21e5", "": "\u2205"}


def attention_data(attention, tokens, graph: Graph) -> dict | None:
    """The page's ``attention`` entry, or None when there is nothing to show."""
    if attention is False:
        return None
    if attention is None:
        groups = _from_graph(graph)
        if not groups:
            return None
    else:
        groups = _groups(attention)
    total = sum(layer["weights"].size for _, layers in groups for layer in layers)
    if total > MAX_WEIGHTS:
        raise ValueError(f"viz.html: the attention maps hold {total:,} weights, more than "
                         f"{MAX_WEIGHTS:,}; pass fewer layers or a shorter sequence")
    out = []
    for name, layers in groups:
        _label(tokens, name, layers)
        out.append({"name": name, "layers": [_layer_entry(layer, graph) for layer in layers]})
    return {"groups": out}


# ---- what the caller passed --------------------------------------------------------------
def _groups(attention) -> list:
    """[(group name, [layer dicts])] from a dict, a list of layers, a list of (self, cross)
    pairs (a TransformerDecoderLayer's need_weights), or one map."""
    if isinstance(attention, dict):
        return [(str(name), _layers(spec, str(name))) for name, spec in attention.items()]
    if isinstance(attention, (list, tuple)) and attention and all(
            isinstance(item, tuple) and len(item) == 2 for item in attention):
        return [("self", _layers([s for s, _ in attention], "self")),
                ("cross", _layers([c for _, c in attention], "cross"))]
    return [("attention", _layers(attention, "attention"))]


def _layers(spec, group: str) -> list:
    maps = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not maps:
        raise ValueError(f"viz.html: attention {group!r} holds no maps")
    return [_layer(m, f"layer {k + 1}", group, [m] if isinstance(m, Tensor) else [])
            for k, m in enumerate(maps)]


def _layer(weights, label: str, group: str, tensors: list) -> dict:
    """One row of the grid: weights (heads, L, S) of the batch's first sequence."""
    array = _host(weights)
    if array.ndim == 4:
        array = array[0]
    elif array.ndim == 3:
        array = array[:1]
    elif array.ndim == 2:
        array = array[None]
    else:
        raise ValueError(f"viz.html: an attention map is {SHAPES}; {label} of {group!r} has "
                         f"shape {tuple(array.shape)}")
    if array.dtype.kind not in "fiu":
        raise ValueError(f"viz.html: attention weights are numbers; {label} of {group!r} has "
                         f"dtype {array.dtype}")
    return {"label": label, "weights": array, "tensors": [(t, 0) for t in tensors]}


def _host(weights):
    """The array on the host (a NumPy array, or a list, becomes one through Tensor)."""
    data = weights.data if isinstance(weights, Tensor) else Tensor(weights).data
    return data.get() if hasattr(data, "get") else data        # CuPy: to the host


# ---- found in the graph -------------------------------------------------------------------
def _from_graph(graph: Graph) -> list:
    # a_ij whose values were freed (edges.py) cannot be drawn: pass attention= for those
    found = [t for t in graph.entries if t.name == WEIGHTS_NAME and t.ndim in (2, 3, 4)
             and not values_freed(t)]
    layers: list = []
    for t in found:
        step = graph.step_name.get(id(t))
        last = layers[-1] if layers else None
        if last is not None and _continues(last, t, step):
            last["parts"].append(t)
            last["steps"].append(step)
            continue
        layers.append({"parts": [t], "steps": [step]})
    return [("a_ij in the graph", [_stacked(k, layer) for k, layer in enumerate(layers)])] if layers else []


def _continues(layer: dict, t: Tensor, step) -> bool:
    """A one-query map (B, 1, S) of a later decoder step than the row so far: another row."""
    first = layer["parts"][0]
    return (t.ndim == 3 and t.shape[1] == 1 and t.shape == first.shape and step is not None
            and step not in layer["steps"] and None not in layer["steps"])


def _stacked(k: int, layer: dict) -> dict:
    parts, steps = layer["parts"], layer["steps"]
    where = steps[0] if len(steps) == 1 else f"{steps[0]} .. {steps[-1]}"
    label = f"a_ij #{k + 1}" + (f" ({where})" if where else "")
    if len(parts) == 1:
        return _layer(parts[0], label, WEIGHTS_NAME, parts)
    rows = [_host(t)[:1] for t in parts]
    rows = backend_for(rows[0]).xp.concatenate(rows, axis=1)           # (1, steps, S)
    out = _layer(rows, label, WEIGHTS_NAME, [])
    out["tensors"] = [(t, row) for row, t in enumerate(parts)]
    return out


# ---- tokens on the axes -------------------------------------------------------------------
def _label(tokens, group: str, layers: list) -> None:
    """Put the token labels on each layer's axes. A list labels whichever axes it fits (both
    for self-attention); a pair (query tokens, key tokens) must fit its axes exactly."""
    if isinstance(tokens, dict):
        tokens = tokens.get(group)
    for layer in layers:
        layer["queries"] = layer["keys"] = None
    if tokens is None:
        return
    L_S = [layer["weights"].shape[1:] for layer in layers]
    if _is_pair(tokens):
        queries, keys = _strings(tokens[0]), _strings(tokens[1])
        for layer, (L, S) in zip(layers, L_S):
            if (len(queries), len(keys)) != (L, S):
                raise ValueError(f"viz.html: {len(queries)} query and {len(keys)} key tokens for "
                                 f"{layer['label']} of {group!r}, whose maps are (L={L}, S={S})")
            layer["queries"], layer["keys"] = _visible(queries), _visible(keys)
        return
    both = _strings(tokens)
    for layer, (L, S) in zip(layers, L_S):
        layer["queries"] = _visible(both) if len(both) == L else None
        layer["keys"] = _visible(both) if len(both) == S else None
    if not any(layer["queries"] or layer["keys"] for layer in layers):
        shapes = ", ".join(f"(L={L}, S={S})" for L, S in L_S)
        raise ValueError(f"viz.html: {len(both)} tokens fit no axis of the attention maps of "
                         f"{group!r}: {shapes}")


def _is_pair(tokens) -> bool:
    """(query tokens, key tokens): a tuple of two lists (a tuple of two strings is 2 tokens)."""
    return (isinstance(tokens, tuple) and len(tokens) == 2
            and all(isinstance(side, (list, tuple)) for side in tokens))


def _strings(tokens) -> list:
    return list(tokens) if isinstance(tokens, str) else [str(t) for t in tokens]


def _visible(tokens: list) -> list:
    return [VISIBLE.get(s, s) for s in tokens]


# ---- into the page ------------------------------------------------------------------------
def _layer_entry(layer: dict, graph: Graph) -> dict:
    weights = layer["weights"].astype("float64")
    heads, L, S = weights.shape
    links = [[graph.index[id(t)], row] for t, row in layer["tensors"] if id(t) in graph.index]
    return {"label": layer["label"], "shape": [heads, L, S],
            "heads": [[_number(v) for v in head.reshape(-1).tolist()] for head in weights],
            "queries": layer["queries"], "keys": layer["keys"], "tensors": links}


def _number(value: float):
    """6 significant digits, as the rest of the page prints numbers; NaN and Inf as null
    (JSON has no word for them; the page shows them red)."""
    return float(f"{value:.6g}") if math.isfinite(value) else None
