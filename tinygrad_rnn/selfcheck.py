"""Gradient checks of every op (and, when present, every model) on one device, as a table.

Used by ``tinygrad-rnn gradcheck`` to prove a set-up (e.g. a new GPU): each case builds
small float64 inputs on the device, runs ``gradcheck`` (and ``gradgradcheck`` for smooth
ops) and reports pass/fail with the time it took.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from . import functional as F
from .creation import manual_seed, rand, randn
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor


@dataclass
class Case:
    name: str
    function: Callable
    shapes: tuple                 # one shape per input
    positive: bool = False        # inputs drawn in (0.5, 1.5) instead of N(0, 1)
    smooth: bool = True           # also check second derivatives
    module: Callable | None = None   # builds a Module whose parameters are checked too


def _cases() -> list[Case]:
    index = Tensor([2, 0, 2])
    return [
        Case("add (broadcast)", lambda a, b: a + b, ((3, 1), (4,))),
        Case("sub", lambda a, b: a - b, ((2, 3), (2, 3))),
        Case("mul (broadcast)", lambda a, b: a * b, ((2, 3), (3,))),
        Case("div", lambda a, b: a / b, ((2, 3), (2, 3)), positive=True),
        Case("pow", lambda a, b: a ** b, ((2, 3), (2, 3)), positive=True),
        Case("neg", lambda a: -a, ((4,),)),
        Case("exp", lambda a: a.exp(), ((2, 3),)),
        Case("log", lambda a: a.log(), ((2, 3),), positive=True),
        Case("sqrt", lambda a: a.sqrt(), ((2, 3),), positive=True),
        Case("tanh", lambda a: a.tanh(), ((2, 3),)),
        Case("sigmoid", lambda a: a.sigmoid(), ((2, 3),)),
        Case("softplus", lambda a: F.softplus(a), ((2, 3),)),
        Case("relu", lambda a: a.relu(), ((2, 3),), positive=True, smooth=False),
        Case("abs", lambda a: a.abs(), ((2, 3),), positive=True, smooth=False),
        Case("sin", lambda a: a.sin(), ((2, 3),)),
        Case("cos", lambda a: a.cos(), ((2, 3),)),
        Case("maximum", lambda a, b: a.maximum(b + 3.0), ((2, 3), (2, 3)), smooth=False),
        Case("clamp", lambda a: a.clamp(-10.0, 10.0), ((2, 3),), smooth=False),
        Case("sum (axis)", lambda a: a.sum(axis=1), ((2, 3, 4),)),
        Case("mean", lambda a: a.mean(axis=(0, 2), keepdims=True), ((2, 3, 4),)),
        Case("max (axis)", lambda a: a.amax(1), ((3, 4),), smooth=False),
        Case("var", lambda a: a.var(axis=1), ((3, 4),)),
        Case("logsumexp", lambda a: a.logsumexp(axis=-1), ((3, 4),)),
        Case("matmul (batched)", lambda a, b: a @ b, ((2, 3, 4), (4, 2))),
        Case("matmul (vector)", lambda a, b: a @ b, ((4,), (4, 3))),
        Case("reshape", lambda a: a.reshape(6, 2), ((3, 4),)),
        Case("permute", lambda a: a.permute(2, 0, 1), ((2, 3, 4),)),
        Case("expand", lambda a: a.expand(3, 4), ((1, 4),)),
        Case("getitem (slices)", lambda a: a[1:, ::-1], ((3, 4),)),
        Case("getitem (repeated rows)", lambda a: a[index], ((3, 4),)),
        Case("cat", lambda a, b: F.cat([a, b], dim=1), ((2, 3), (2, 2))),
        Case("stack", lambda a, b: F.stack([a, b], dim=0), ((2, 3), (2, 3))),
        Case("pad", lambda a: F.pad(a, (1, 2)), ((2, 3),)),
        Case("where", lambda a, b: F.where(a.data > 0, a, b), ((2, 3), (2, 3)), smooth=False),
        Case("softmax", lambda a: F.softmax(a, dim=-1), ((3, 4),)),
        Case("log_softmax", lambda a: F.log_softmax(a, dim=-1), ((3, 4),)),
        Case("cross_entropy", lambda a: F.cross_entropy(a, Tensor([1, 0, 3])), ((3, 4),)),
        Case("bce_with_logits", lambda a: F.binary_cross_entropy_with_logits(a, Tensor([[0.0, 1.0]] * 2, dtype="float64")), ((2, 2),)),
        Case("mse_loss", lambda a, b: F.mse_loss(a, b), ((2, 3), (2, 3))),
        Case("embedding", lambda w: F.embedding(index, w), ((4, 3),)),
    ]


def model_cases() -> list[Case]:
    """Gradient checks of the recurrent cells and layers (fused and composed): the inputs'
    gradients and every parameter's."""
    try:
        from . import models
    except ImportError:
        return []
    cases = []
    for name in ("RNNCell", "LSTMCell", "GRUCell", "MUT1Cell", "MUT2Cell", "MUT3Cell"):
        cell_class = getattr(models, name)
        width = 4 if name.startswith("MUT") else 3     # MUT cells add x_t unprojected
        cases.append(Case(name, _run_cell, ((2, width), (2, 4)), smooth=False,
                          module=lambda c=cell_class, w=width: c(w, 4)))
    for name in ("RNN", "LSTM", "GRU"):
        for fused in (True, False):
            cases.append(Case(f"{name} layer ({'fused' if fused else 'composed'})", _run_layer,
                              ((3, 2, 3),), smooth=False,
                              module=lambda c=getattr(models, name), f=fused: c(
                                  3, 4, num_layers=2, bidirectional=True, fused=f)))
    return cases


def _run_cell(cell, x, h):
    out = cell(x, (h, h * 0.5) if type(cell).__name__ == "LSTMCell" else h)
    return out[0] if isinstance(out, tuple) else out


def _run_layer(layer, x):
    return layer(x)[0]


@dataclass
class Result:
    name: str
    first_order: bool
    second_order: bool | None
    seconds: float
    message: str = ""


def run_checks(device: str = "cpu", include_models: bool = True) -> list[Result]:
    results = []
    for case in _cases() + (model_cases() if include_models else []):
        manual_seed(0)
        inputs = [(rand(*s, dtype="float64", device=device) + 0.5 if case.positive else
                   randn(*s, dtype="float64", device=device)).requires_grad_() for s in case.shapes]
        function = case.function
        if case.module is not None:
            # the parameters are inputs too: gradcheck perturbs them in place, the module reads them
            module = case.module().to(device, "float64")
            count = len(inputs)
            inputs += list(module.parameters())
            function = lambda *values, m=module, f=case.function, n=count: f(m, *values[:n])
        start = time.perf_counter()
        message, second = "", None
        try:
            first = gradcheck(function, inputs)
            if case.smooth:
                second = gradgradcheck(function, inputs)
        except GradcheckError as error:
            first, message = False, str(error)
            if "gradgradcheck" in message:
                first, second = True, False
        results.append(Result(case.name, first, second, time.perf_counter() - start, message))
    return results


def format_table(results: list[Result], device: str) -> str:
    mark = {True: "ok", False: "FAIL", None: "-"}
    width = max(len(r.name) for r in results)
    lines = [f"gradient checks on {device} (float64, central differences)",
             f"{'case':<{width}}  {'1st':>4}  {'2nd':>4}  {'ms':>7}"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {mark[r.first_order]:>4}  {mark[r.second_order]:>4}  "
                     f"{r.seconds * 1000:7.1f}" + (f"  {r.message}" if r.message else ""))
    failed = sum(1 for r in results if not r.first_order or r.second_order is False)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)
