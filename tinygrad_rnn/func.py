"""Function transforms, as ``torch.func``: functions of tensors in, functions of tensors out.

    tg.func.grad(f)(x)                 df/dx for a scalar f            (reverse mode, 1 pass)
    tg.func.grad_and_value(f)(x)       (df/dx, f(x))
    tg.func.vjp(f, x) -> (y, vjp_fn)   vjp_fn(u) = u^T J               (reverse mode)
    tg.func.jvp(f, (x,), (v,))         (y, J v)                        (forward mode, 1 pass)
    tg.func.jacrev(f)(x)               J, one reverse pass per output element (m passes)
    tg.func.jacfwd(f)(x)               J, one forward pass per input element  (n passes)
    tg.func.hessian(f)(x)              jacfwd(jacrev(f)): forward over reverse
    tg.func.hvp(f, (x,), (v,))         (f(x), H v) in one forward-over-reverse pass

``argnums`` picks the argument(s) to differentiate (an int or a tuple of ints; a tuple gives
a tuple of results). Jacobians have shape ``output.shape + input.shape``. Transforms nest
(``grad(grad(f))``, ``jacrev(jacrev(f))``, ``jacfwd(jacrev(f))``); two forward-mode
transforms cannot nest (one dual level at a time, as ``tg.forward_ad``).
"""
from __future__ import annotations

from typing import Callable

from . import forward_ad
from .engine import grad as _autograd_grad
from .functional import stack
from .grad_mode import enable_grad
from .ops import xp_of
from .state import STATE
from .tensor import Tensor


def _argnums_tuple(argnums, count: int, who: str) -> tuple:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise ValueError(f"{who}: argnums must name at least one argument")
    for n in nums:
        if not isinstance(n, int) or not -count <= n < count:
            raise ValueError(f"{who}: argnums {argnums!r} is out of range for {count} "
                             "positional argument(s)")
    return tuple(n % count for n in nums)


def _watched(x, who: str) -> tuple:
    """x as a tensor gradients can be taken with respect to, and whether it carries an outer
    transform's history (then the inner gradient is built with create_graph, so the outer
    transform can differentiate it)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: the differentiated arguments must be Tensors, got "
                        f"{type(x).__name__}")
    if x.dtype.kind not in "fc":
        raise TypeError(f"{who}: cannot differentiate with respect to a {x.dtype} tensor")
    if x.requires_grad:
        return forward_ad._Alias().apply(x), True     # shares x's history (and tangent)
    leaf = x.detach().requires_grad_()
    if x._tangent is not None:                        # inside jacfwd / jvp: keep the tangent
        STATE.forward_ad.attach(leaf, x._tangent)
    return leaf, False


def _watch_args(args: tuple, nums: tuple, who: str):
    """args with those at ``nums`` watched; and whether any carries outer history."""
    args, outer = list(args), False
    for n in nums:
        args[n], nested = _watched(args[n], who)
        outer |= nested
    return args, outer


def _split_aux(result, has_aux: bool, who: str):
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ValueError(f"{who}(has_aux=True): the function must return (output, aux)")
    return result


def _gradients(outputs, inputs, grad_outputs, create_graph: bool) -> list:
    """d(outputs)/d(inputs), zeros for an input the outputs do not use."""
    found = _autograd_grad(outputs, inputs, grad_outputs=grad_outputs, retain_graph=True,
                           create_graph=create_graph, allow_unused=True)
    return [_zeros_like(x) if g is None else g for g, x in zip(found, inputs)]


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor._make(x.data * 0)


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning ``(gradient, value)`` of the scalar ``func`` (with ``has_aux``:
    ``(gradient, (value, aux))``)."""
    def wrapped(*args):
        nums = _argnums_tuple(argnums, len(args), "grad")
        with enable_grad():
            args, outer = _watch_args(args, nums, "grad")
            value, aux = _split_aux(func(*args), has_aux, "grad")
            if not isinstance(value, Tensor) or value.data.size != 1:
                raise ValueError(f"grad: the function must return a one-element tensor, got "
                                 f"{getattr(value, 'shape', type(value).__name__)}; use "
                                 "jacrev or vjp for other outputs")
            grads = _gradients([value], [args[n] for n in nums], None, outer)
        found = grads[0] if isinstance(argnums, int) else tuple(grads)
        return (found, (value, aux)) if has_aux else (found, value)
    return wrapped


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of the scalar ``func`` with respect to the
    argument(s) ``argnums`` (with ``has_aux``: ``(gradient, aux)``)."""
    with_value = grad_and_value(func, argnums, has_aux)

    def wrapped(*args):
        found, value = with_value(*args)
        return (found, value[1]) if has_aux else found
    return wrapped


def vjp(func: Callable, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` returns u^T J for every primal,
    as a tuple (one reverse pass per call; the forward pass is shared)."""
    with enable_grad():
        inputs, outer = _watch_args(primals, tuple(range(len(primals))), "vjp")
        output, aux = _split_aux(func(*inputs), has_aux, "vjp")
    outputs = (output,) if isinstance(output, Tensor) else tuple(output)

    def vjp_fn(cotangents):
        given = (cotangents,) if isinstance(cotangents, Tensor) else tuple(cotangents)
        if len(given) != len(outputs):
            raise ValueError(f"vjp_fn: {len(given)} cotangent(s) for {len(outputs)} output(s)")
        for u, o in zip(given, outputs):
            if u.shape != o.shape:
                raise ValueError(f"vjp_fn: cotangent of shape {tuple(u.shape)} for an output "
                                 f"of shape {tuple(o.shape)}")
        live = [(o, u) for o, u in zip(outputs, given) if o.requires_grad]
        if not live:
            return tuple(_zeros_like(x) for x in inputs)
        with enable_grad():
            return tuple(_gradients([o for o, _ in live], inputs, [u for _, u in live], outer))
    return (output, vjp_fn, aux) if has_aux else (output, vjp_fn)


def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J v)`` in one forward pass with dual numbers (``tangents`` = v,
    one per primal, same shapes)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    if STATE.forward_ad is not None:
        raise RuntimeError("jvp: forward-mode transforms cannot nest here (one dual level at a "
                           "time); compose forward mode with reverse mode instead, e.g. "
                           "jacfwd(jacrev(f))")
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(p, t) for p, t in zip(primals, tangents)]
        output, aux = _split_aux(func(*duals), has_aux, "jvp")
        outputs = (output,) if isinstance(output, Tensor) else tuple(output)
        unpacked = [forward_ad.unpack_dual(o) for o in outputs]
    values = [u.primal for u in unpacked]
    pushed = [_zeros_like(o) if u.tangent is None else u.tangent
              for o, u in zip(outputs, unpacked)]
    if isinstance(output, Tensor):
        result = (values[0], pushed[0])
    else:
        result = (tuple(values), tuple(pushed))
    return result + (aux,) if has_aux else result


def _basis(x: Tensor):
    """The unit tensors e_0, e_1, ... shaped like ``x``, one per element."""
    for j in range(x.data.size):
        e = xp_of(x.data).zeros(x.data.size, dtype=x.dtype)
        e[j] = 1
        yield Tensor._make(e.reshape(x.shape))


def jacrev(func: Callable, argnums=0, *, has_aux: bool = False, chunk_size=None) -> Callable:
    """The Jacobian by reverse mode: one backward pass per output element (rows u = e_i).
    (``chunk_size`` is accepted for torch's signature: the rows are always computed one by
    one, there is no vmap.)"""
    def wrapped(*args):
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        with enable_grad():
            args, outer = _watch_args(args, nums, "jacrev")
            output, aux = _split_aux(func(*args), has_aux, "jacrev")
            inputs = [args[n] for n in nums]
            jacobians = [_jacobian_rev(o, inputs, outer) for o in _outputs(output, "jacrev")]
        found = _shape_result(jacobians, output, argnums)
        return (found, aux) if has_aux else found
    return wrapped


def _outputs(output, who: str) -> tuple:
    outputs = (output,) if isinstance(output, Tensor) else tuple(output)
    for o in outputs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{who}: the function must return Tensors, got {type(o).__name__}")
    return outputs


def _jacobian_rev(output: Tensor, inputs: list, outer: bool) -> list:
    if not output.requires_grad:
        return [_zeros_jacobian(output, x) for x in inputs]
    rows = [_gradients([output], inputs, [e], outer) for e in _basis(output)]
    return [_assemble(output.shape, x.shape, [row[k] for row in rows], x)
            for k, x in enumerate(inputs)]


def _zeros_jacobian(output: Tensor, x: Tensor) -> Tensor:
    return Tensor._make(xp_of(x.data).zeros(output.shape + x.shape, dtype=x.dtype))


def _assemble(out_shape: tuple, in_shape: tuple, rows: list, like: Tensor) -> Tensor:
    """The rows d(output_i)/dx (one per output element) stacked into out_shape + in_shape."""
    if not rows:
        return Tensor._make(xp_of(like.data).zeros(out_shape + in_shape, dtype=like.dtype))
    return stack(rows, dim=0).reshape(out_shape + in_shape)


def _shape_result(jacobians: list, output, argnums):
    """jacobians[k][j]: output k, argument j -> torch.func's nesting (tuples only where the
    function returned a tuple or argnums is a tuple)."""
    per_output = [j[0] if isinstance(argnums, int) else tuple(j) for j in jacobians]
    return per_output[0] if isinstance(output, Tensor) else tuple(per_output)


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable:
    """The Jacobian by forward mode: one forward pass per input element (tangent v = e_j).
    (``randomness`` is accepted for torch's signature; each pass draws its own numbers.)"""
    def wrapped(*args):
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        if STATE.forward_ad is not None:
            raise RuntimeError("jacfwd: forward-mode transforms cannot nest (one dual level at "
                               "a time); use jacfwd(jacrev(f)) or jacrev(jacfwd(f))")
        columns: dict = {}      # (output k, argument j) -> list of tangents, one per element
        output = aux = None
        for j, n in enumerate(nums):
            x = args[n]
            if not isinstance(x, Tensor) or x.dtype.kind not in "fc":
                raise TypeError(f"jacfwd: argument {n} must be a floating-point Tensor")
            for e in _basis(x):
                with forward_ad.dual_level():
                    moved = list(args)
                    moved[n] = forward_ad.make_dual(x, e)
                    output, aux = _split_aux(func(*moved), has_aux, "jacfwd")
                    for k, o in enumerate(_outputs(output, "jacfwd")):
                        t = forward_ad.unpack_dual(o).tangent
                        columns.setdefault((k, j), []).append(_zeros_like(o) if t is None else t)
        if output is None:                     # every differentiated argument is empty
            output, aux = _split_aux(func(*args), has_aux, "jacfwd")
        outputs = _outputs(output, "jacfwd")
        jacobians = []
        for k, o in enumerate(outputs):
            row = []
            for j, n in enumerate(nums):
                x = args[n]
                pieces = columns.get((k, j), [])
                if pieces:        # stacked on a new last axis: J[..., j] is the j-th column
                    row.append(stack(pieces, dim=-1).reshape(o.shape + x.shape))
                else:
                    row.append(_zeros_jacobian(o, x))
            jacobians.append(row)
        found = _shape_result(jacobians, output, argnums)
        return (found, aux) if has_aux else found
    return wrapped


def hessian(func: Callable, argnums=0) -> Callable:
    """The Hessian of a scalar ``func``: jacfwd(jacrev(func)), forward over reverse."""
    return jacfwd(jacrev(func, argnums), argnums)


def hvp(func: Callable, primals, tangents):
    """``(func(*primals), H v)``: the Hessian-vector product of a scalar ``func`` in one
    forward-over-reverse pass (the tangent of the gradient), never forming H. A tuple of
    primals gives a tuple of products (as torch.autograd.functional.hvp)."""
    single = isinstance(primals, Tensor)
    primals = (primals,) if single else tuple(primals)
    tangents = (tangents,) if isinstance(tangents, Tensor) else tuple(tangents)
    gradient = grad_and_value(func, argnums=tuple(range(len(primals))))

    def value_and_gradients(*x):
        grads, value = gradient(*x)
        return (value,) + tuple(grads)
    values, pushed = jvp(value_and_gradients, primals, tangents)
    return values[0], (pushed[1] if single else tuple(pushed[1:]))


__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "hvp"]
