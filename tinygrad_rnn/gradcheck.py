"""Gradient checking against central finite differences, in float64.

For a random vector v (one per output), the VJP v^T J from backward is compared,
element by element, with the numeric derivative of f_v(x) = sum_k <v_k, f_k(x)>:

    d f_v / d x_j  ~  (f_v(x + eps e_j) - f_v(x - eps e_j)) / (2 eps)

``gradgradcheck`` runs the same check on the backward pass itself (built with
``create_graph=True``), so second derivatives are checked too. With
``check_forward_ad=True`` the forward mode is checked as well: for random directions v,
the tangent J v pushed through ``fn`` (``tg.forward_ad``) is compared, element by
element, with (f(x + eps v) - f(x - eps v)) / (2 eps).
"""
from __future__ import annotations

from .backends import backend_for
from .engine import grad
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree."""


def _as_tuple(value) -> tuple:
    return (value,) if isinstance(value, Tensor) else tuple(value)


def _differentiable(outputs) -> list:
    return [o for o in outputs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _check_inputs(inputs, who: str) -> list:
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError(f"{who}: no input requires grad, so there is nothing to check")
    for i, t in enumerate(checked):
        if str(t.dtype) != "float64":
            raise TypeError(f"{who}: input {i} is {t.dtype}; finite differences need float64 "
                            "inputs (use .double())")
    return checked


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0, check_forward_ad: bool = False,
              check_backward_ad: bool = True) -> bool:
    """True when backward's gradients of ``fn(*inputs)`` match central differences (and,
    with ``check_forward_ad``, forward mode's tangents too).

    On a mismatch, raises GradcheckError naming the input, the worst element's index and
    both values (or returns False with ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    checked = _check_inputs(inputs, "gradcheck")
    if check_forward_ad and not _jvp_agrees(fn, inputs, checked, eps, atol, rtol,
                                            raise_exception, seed):
        return False
    if not check_backward_ad:
        return True
    outputs = _differentiable(_as_tuple(fn(*inputs)))
    if not outputs:
        raise ValueError("gradcheck: fn returned no floating-point tensor")
    xp = backend_for(outputs[0].data).xp
    rng = xp.random.default_rng(seed)
    weights = [Tensor._make(rng.standard_normal(o.shape)) for o in outputs]

    live = [(o, w) for o, w in zip(outputs, weights) if o.requires_grad]
    if live:
        analytic = grad([o for o, _ in live], checked, grad_outputs=[w for _, w in live],
                        allow_unused=True)
    else:
        analytic = [None] * len(checked)

    def projected() -> float:
        with no_grad():
            outs = _differentiable(_as_tuple(fn(*inputs)))
        return sum(float((o.data * w.data).sum()) for o, w in zip(outs, weights))

    for position, t in enumerate(checked):
        original = t.data
        t.data = xp.array(original, copy=True)      # contiguous, so the flat view writes through
        flat = t.data.reshape(-1)
        numeric = xp.zeros(flat.shape, dtype=flat.dtype)
        try:
            for j in range(flat.size):
                saved = float(flat[j])
                flat[j] = saved + eps
                plus = projected()
                flat[j] = saved - eps
                minus = projected()
                flat[j] = saved
                numeric[j] = (plus - minus) / (2 * eps)
        finally:
            t.data = original
        got = analytic[position]
        got = xp.zeros(flat.shape) if got is None else got.data.reshape(-1).astype(flat.dtype)
        excess = xp.abs(got - numeric) - (atol + rtol * xp.abs(numeric))
        if flat.size and float(excess.max()) > 0:
            worst = int(excess.argmax())
            index = tuple(int(i) for i in xp.unravel_index(worst, t.shape)) if t.ndim else ()
            message = (f"gradcheck: input {position} (shape {tuple(t.shape)}) disagrees at index "
                       f"{index}: analytic {float(got[worst]):.8g}, numeric "
                       f"{float(numeric[worst]):.8g} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def _jvp_agrees(fn, inputs, checked, eps, atol, rtol, raise_exception, seed) -> bool:
    from . import forward_ad
    xp = backend_for(checked[0].data).xp
    rng = xp.random.default_rng(seed + 100)
    directions = {id(t): Tensor._make(rng.standard_normal(t.shape)) for t in checked}
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(t, directions[id(t)]) if id(t) in directions else t
                 for t in inputs]
        outputs = _differentiable(_as_tuple(fn(*duals)))
        analytic = [forward_ad.unpack_dual(o).tangent for o in outputs]
    analytic = [xp.zeros(o.shape) if t is None else t.data for o, t in zip(outputs, analytic)]

    def moved(sign):
        shifted = [Tensor._make(t.data + sign * eps * directions[id(t)].data)
                   if id(t) in directions else t for t in inputs]
        with no_grad():
            return [o.data for o in _differentiable(_as_tuple(fn(*shifted)))]
    for k, (got, plus, minus) in enumerate(zip(analytic, moved(1.0), moved(-1.0))):
        numeric = (plus - minus) / (2 * eps)
        excess = xp.abs(got - numeric) - (atol + rtol * xp.abs(numeric))
        if numeric.size and float(excess.max()) > 0:
            worst = int(excess.argmax())
            message = (f"gradcheck: forward mode (JVP) of output {k} (shape {tuple(got.shape)}) "
                       f"disagrees at flat index {worst}: analytic {float(got.reshape(-1)[worst]):.8g}, "
                       f"numeric {float(numeric.reshape(-1)[worst]):.8g} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, seed: int = 1) -> bool:
    """gradcheck of the backward pass: checks the second derivatives of ``fn``."""
    inputs = _as_tuple(inputs)
    checked = _check_inputs(inputs, "gradgradcheck")
    with no_grad():
        outputs = _differentiable(_as_tuple(fn(*inputs)))
    xp = backend_for(outputs[0].data).xp
    rng = xp.random.default_rng(seed)
    vectors = [Tensor._make(rng.standard_normal(o.shape)).requires_grad_() for o in outputs]
    count = len(inputs)

    def backward_pass(*values):
        # gradcheck runs this under no_grad for its finite differences, but a backward pass
        # needs a recorded forward, so record one here regardless.
        with enable_grad():
            outs = [o for o in _differentiable(_as_tuple(fn(*values[:count])))
                    if o.requires_grad]
            grads = grad(outs, [v for v in values[:count] if v in checked_set],
                         grad_outputs=list(values[count:count + len(outs)]),
                         create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    checked_set = _IdentitySet(checked)
    return gradcheck(backward_pass, inputs + tuple(vectors), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed + 1)


class _IdentitySet:
    """Membership by identity (Tensor's == is elementwise)."""

    def __init__(self, items):
        self.ids = {id(x) for x in items}

    def __contains__(self, item) -> bool:
        return id(item) in self.ids
