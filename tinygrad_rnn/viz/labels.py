"""Text and colours of the drawings: tensor and op labels, value summaries, the styles of the
node kinds. Labels are lists of lines; ``join`` turns them into one DOT label."""
from __future__ import annotations

import math

from ..edges import values_freed
from ..tensor import Tensor

FONT = "Helvetica"

# Fill colours of the node kinds (gradients, when drawn, replace the fill of tensor nodes).
STYLE = {
    "parameter": dict(shape="box", style="filled,bold", fillcolor="#cfe3ff", penwidth="2"),
    "input": dict(shape="box", style="filled", fillcolor="#e8e8e8", color="#777777"),
    "cut": dict(shape="box", style="filled,dashed,bold", fillcolor="#ffffff", color="#d62728",
                penwidth="2"),
    "intermediate": dict(shape="box", style="rounded,filled", fillcolor="#ffffff"),
    "output": dict(shape="box", style="rounded,filled,bold", fillcolor="#ffe1c4", peripheries="2"),
    "op": dict(shape="ellipse", style="filled", fillcolor="#fff4c2"),
    "opbox": dict(shape="box", style="rounded,filled", fillcolor="#fff4c2"),
    "named": dict(shape="box", style="rounded,filled,bold", fillcolor="#fff4c2"),
    "sum": dict(shape="box", style="rounded,filled", fillcolor="#e6f0ff", color="#1f77b4"),
    "cell": dict(shape="box", style="rounded,filled,bold", fillcolor="#fff4c2", penwidth="2"),
    "block": dict(shape="box", style="rounded,filled,bold", fillcolor="#e0f3e0", penwidth="2"),
    "vjp": dict(shape="box", style="filled", fillcolor="#fde4ec"),
    "freed": dict(shape="ellipse", style="filled,dashed", fillcolor="#f4f4f4", color="#999999"),
    "seed": dict(shape="oval", style="filled", fillcolor="#ffe1c4"),
    "earlier": dict(shape="plaintext", fontcolor="#d62728"),
}
NO_GRAD_EDGE = dict(color="#aaaaaa")
CUT_EDGE = dict(style="dashed", color="#d62728", penwidth="1.5", fontcolor="#d62728", fontsize="9")
# the recurrent state's label (h_{t-1}) is what a lecture points at: as large as the boxes' text
RECURRENT_EDGE = dict(color="#1f77b4", penwidth="2", fontcolor="#1f77b4", fontsize="10")
HIGHWAY = dict(penwidth="3.5")       # the LSTM's cell-state path c_{t-1} -> c_t


def escape(text: str) -> str:
    """Text safe inside a DOT label (backslashes doubled; quotes are quoted by graphviz)."""
    return str(text).replace("\\", "\\\\")


def join(lines) -> str:
    return "\\n".join(escape(line) for line in lines if line)


def shape_text(t: Tensor) -> str:
    """``(4, 8) float32 cpu``."""
    shape = tuple(t.shape)
    shape = f"({shape[0]},)" if len(shape) == 1 else str(shape)
    return f"{shape} {t.dtype} {t.device}"


def number(value: float) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def shape_only(t: Tensor) -> str:
    """``(4, 8)``: the shape without dtype and device."""
    shape = tuple(t.shape)
    return f"({shape[0]},)" if len(shape) == 1 else str(shape)


def values_text_of(array, limit: int = 8) -> str:
    """The values of a small array (NumPy or CuPy), or min / mean / max of a larger one."""
    data = array.get() if hasattr(array, "get") else array      # CuPy: to the host
    if data.size == 0:
        return "(empty)"
    if data.dtype.kind == "b":
        data = data.astype("int8")
    if data.ndim == 0:
        return number(float(data))
    if data.size <= limit:
        return "[" + ", ".join(number(float(v)) for v in data.reshape(-1)) + "]"
    data = data.astype("float64")
    return (f"min {number(float(data.min()))}  mean {number(float(data.mean()))}  "
            f"max {number(float(data.max()))}")


def values_text(t: Tensor, grad=None, limit: int = 8) -> list[str]:
    """``data | grad`` of a tensor of at most ``limit`` elements (micrograd's boxes), else its
    min / mean / max, with the gradient's on a second line."""
    data = ("values not kept" if values_freed(t)        # a shadow (edges.py): no values
            else values_text_of(t.detach().numpy(), limit))
    if grad is None:
        return [data]
    g = values_text_of(grad.detach().numpy() if isinstance(grad, Tensor) else grad, limit)
    if t.data.size <= limit:
        return [f"{data} | {g}"]
    return [data, f"grad {g}"]


def brief(t: Tensor, kind: str) -> str:
    """A short name for a tensor: its name, else what made it."""
    if t.name:
        return t.name
    if t._node is not None:
        return f"{t._node.name} out"
    return kind


def tensor_lines(t: Tensor, kind: str, shape: str, values: list) -> list[str]:
    words = {"parameter": "parameter", "input": "input", "cut": "cut: detached (truncated BPTT)",
             "output": "output"}
    head = t.name or ""
    what = words.get(kind)
    if what:
        head = f"{head}  ({what})" if head else what
    lines = [head] if head else []
    if shape:
        lines.append(shape)
    lines.extend(values)
    return lines or [" "]


def merged_lines(t: Tensor, op: list, kind: str, shape: str, values: list) -> list[str]:
    """One box for an op and its output: ``h_t = mul`` (or the op alone), shape, values."""
    head = op[0]
    if t.name:
        head = f"{t.name} = {head}"
    if kind == "output":
        head = f"{head}  (output)"
    lines = [head] + op[1:]
    if shape:
        lines.append(shape)
    return lines + values


def previous(name: str | None) -> str:
    """How step t calls the state step t-1 made: ``h_t`` -> ``h_{t-1}``."""
    if not name:
        return "state from t-1"
    if name.endswith("_t"):
        return name[:-2] + "_{t-1}"
    return name


def gradient_label(x: Tensor, role: str | None, show_shape: bool) -> str:
    """The gradient an edge of the backward view carries: ``dL/dh_t`` for a named tensor."""
    text = f"dL/d{x.name}" if x.name else (f"g{role}" if role else "g")
    return f"{text} {shape_only(x)}" if show_shape else text


def accumulate_lines(x: Tensor, steps: list, shape: str) -> list[str]:
    """A parameter's accumulation box: ``dL/dW_hh = sum_t ...`` when several steps read it."""
    name = x.name or "parameter"
    lines = [f"accumulate {name}.grad"]
    if len(steps) > 1:
        lines.append(f"dL/d{name} = sum_t dL/d{name}|_t  ({len(steps)} steps)")
    if shape:
        lines.append(shape)
    return lines


def roles(node) -> list[str]:
    """Names of a node's inputs as its formula uses them (x; a, b; A, B)."""
    count = len(node.inputs) if node.inputs is not None else 0
    if count == 1:
        return ["x"]
    if count == 2:
        return ["A", "B"] if "gA" in (node.formula or "") else ["a", "b"]
    return [f"x{k}" for k in range(count)]


# indexing ops show their index as Python writes it (``getitem [:, 4:8]``): the gate slices of
# a cell are four of the widest boxes of a step
_BRACKETED = ("getitem", "setitem")


def op_lines(node, verbose: bool, position: int | None = None) -> list[str]:
    """``mul(., 0.5)`` / ``sum axis=1``: the op, its Python-number arguments (``.`` for a
    tensor) and other settings; the VJP formula and tape position when verbose."""
    head = node.name
    extra = node.extra_repr()
    args = []
    if node.inputs is not None:
        args = [repr(v) if not isinstance(v, Tensor) else "." for v in node.inputs]
    if any(a != "." for a in args):
        head = f"{head}({', '.join(args)})"
    if extra:
        if head in _BRACKETED and extra.startswith("index="):
            extra = extra[len("index="):]
        head = f"{head} {extra}"
    lines = [head]
    if node.inputs is None:
        lines.append("(freed by backward)")
    if verbose:
        if node.formula:
            lines.append(node.formula)
        lines.append(_tape_line(node, position))
    return lines


def vjp_lines(node, y: Tensor, kind_of, show_shapes: bool, verbose: bool,
              position: int | None = None) -> list[str]:
    """``tanh backward``, its formula, and the tensors it saved for it."""
    head = f"{node.name} backward" + (f": {node.formula}" if node.formula else "")
    lines = [f"{y.name}: {head}" if y.name else head]     # the VJP that makes dL/d(input) of h_t
    if node.inputs is None:
        lines.append("(freed by backward: saved tensors released)")
        return lines
    saved = []
    if node.saves_inputs:
        for role, x in zip(roles(node), node.inputs):
            if isinstance(x, Tensor):
                text = f"{role} = {brief(x, kind_of(x))}"
                saved.append(f"{text} {tuple(x.shape)}" if show_shapes else text)
    if node.uses_output:
        saved.append(f"y {tuple(y.shape)}" if show_shapes else "y")
    lines.append("saved: " + (", ".join(saved) if saved else "nothing"))
    if verbose:
        lines.append(_tape_line(node, position))
    return lines


def _tape_line(node, position: int | None) -> str:
    """``tape %5``: the entry's line in print(tg.tape(output)) (the drawing's Graph numbers it)."""
    where = "?" if position is None else position
    return f"tape %{where}" + (f"  [{node.scope}]" if node.scope else "")
