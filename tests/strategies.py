"""Shared hypothesis strategies for the op tests.

Shapes (with size-1 axes, size-0 axes now and then, and mutually broadcastable groups),
float64 values (kept away from an op's kinks when asked), axes and indices. Every run is
repeatable: use ``@settings(max_examples=N, deadline=None, **REPEATABLE)``.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Values closer than this to a kink (relu/abs at 0, clamp's bounds) or to each other (max,
# min, maximum, minimum) are rejected: finite differences (eps = 1e-6) never straddle a kink.
GAP = 1e-3

# Derandomized and database-less, so CI sees the same examples every run. The device
# fixture is function-scoped but immutable (a device name), so reusing it across examples
# is safe.
REPEATABLE = dict(
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# Axis sizes: mostly 1-3, and a size-0 axis about one time in ten.
SIDES = st.sampled_from([1, 2, 3, 1, 2, 3, 1, 2, 3, 0])
NONEMPTY_SIDES = st.integers(1, 3)


def shapes(min_dims: int = 0, max_dims: int = 3, empty: bool = True, sides=None):
    """Array shapes of ``min_dims`` to ``max_dims`` axes; ``empty`` allows size-0 axes."""
    side = sides if sides is not None else (SIDES if empty else NONEMPTY_SIDES)
    # the rank is drawn first (uniformly), so long shapes are as common as short ones
    return st.integers(min_dims, max_dims).flatmap(lambda ndim: st.tuples(*[side] * ndim))


@st.composite
def broadcastable_to(draw, target: tuple):
    """A shape that broadcasts to ``target``: leading axes dropped, some axes set to 1."""
    drop = draw(st.integers(0, len(target))) if draw(st.booleans()) else 0   # leading axes gone
    stretch = st.sampled_from([False, False, True])        # an axis of size 1, one time in 3
    return tuple(1 if draw(stretch) else side for side in target[drop:])


@st.composite
def broadcastable_shapes(draw, n: int = 2, min_dims: int = 0, max_dims: int = 3,
                         empty: bool = True):
    """``n`` mutually broadcastable shapes (with dropped leading axes and size-1 axes)."""
    target = draw(shapes(min_dims, max_dims, empty))
    return [draw(broadcastable_to(target)) for _ in range(n)]


def values(lo: float = -2.0, hi: float = 2.0, avoid=(), gap: float = GAP):
    """Finite float64 values in [lo, hi], at least ``gap`` away from each point of ``avoid``."""
    strategy = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    avoid = tuple(avoid)
    if avoid:
        strategy = strategy.filter(lambda v: all(abs(v - k) >= gap for k in avoid))
    return strategy


def arrays(shape, lo: float = -2.0, hi: float = 2.0, avoid=(), gap: float = GAP):
    """float64 arrays of ``shape`` with every element drawn on its own (no fill value)."""
    return hnp.arrays(np.float64, shape, elements=values(lo, hi, avoid, gap), fill=st.nothing())


def away_from_zero(shape, low: float = 0.5, high: float = 2.0):
    """float64 arrays with low <= |x| <= high (denominators, bases of negative powers)."""
    magnitude = st.floats(low, high, allow_nan=False, allow_infinity=False)
    signed = st.tuples(magnitude, st.booleans()).map(lambda p: -p[0] if p[1] else p[0])
    return hnp.arrays(np.float64, shape, elements=signed, fill=st.nothing())


def separated(*operands, gap: float = GAP) -> bool:
    """True when, after broadcasting, the operands differ pairwise by at least ``gap`` everywhere
    (so max/min-style ops have no ties within reach of finite differences)."""
    arrays_ = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in operands])
    for i in range(len(arrays_)):
        for j in range(i + 1, len(arrays_)):
            if arrays_[i].size and np.abs(arrays_[i] - arrays_[j]).min() < gap:
                return False
    return True


def distinct(array, gap: float = GAP) -> bool:
    """True when all elements of ``array`` differ pairwise by at least ``gap``."""
    flat = np.sort(np.asarray(array).reshape(-1))
    return flat.size < 2 or float(np.diff(flat).min()) >= gap


@st.composite
def axis_args(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    """A reduction's ``axis``: None, an int or a tuple of distinct ints (negatives included)."""
    kinds = (["none"] if allow_none else []) + (["int"] if ndim else [])
    if allow_tuple:
        kinds.append("tuple")
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    signed = lambda a: st.sampled_from([a, a - ndim])   # noqa: E731
    if kind == "int":
        return draw(st.integers(0, ndim - 1).flatmap(signed))
    chosen = draw(st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)
                  if ndim else st.just([]))
    return tuple(draw(signed(a)) for a in chosen)


@st.composite
def basic_indices(draw, shape: tuple, allow_none: bool = True):
    """A NumPy basic index into ``shape``: ints (negatives too), slices (negative steps too),
    None and Ellipsis."""
    parts = []
    for side in shape:
        kind = draw(st.sampled_from(["slice", "int", "full"] if side else ["slice", "full"]))
        if kind == "int":
            parts.append(draw(st.integers(-side, side - 1)))
        elif kind == "full":
            parts.append(slice(None))
        else:
            bound = st.none() | st.integers(-side - 1, side + 1)
            step = draw(st.sampled_from([None, 1, 2, -1, -2, 3]))
            parts.append(slice(draw(bound), draw(bound), step))
    if draw(st.booleans()):                                # a run of axes as Ellipsis
        start = draw(st.integers(0, len(parts)))
        stop = draw(st.integers(start, len(parts)))
        parts[start:stop] = [Ellipsis]
    elif parts and draw(st.booleans()):                    # or trailing axes left implicit
        parts = parts[:draw(st.integers(0, len(parts)))]
    if allow_none:
        for _ in range(draw(st.integers(0, 2))):
            parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


@st.composite
def integer_indices(draw, shape: tuple):
    """An index with integer arrays (repeated and negative positions included): one array on
    one axis, or two broadcastable arrays on two axes, the other axes sliced."""
    axes = [i for i, side in enumerate(shape) if side]
    first = draw(st.sampled_from(axes))
    chosen = [first]
    if len(axes) > 1 and draw(st.booleans()):
        chosen.append(draw(st.sampled_from([a for a in axes if a != first])))
    index_shapes = draw(broadcastable_shapes(len(chosen), min_dims=1, max_dims=2))
    parts: list = [slice(None)] * len(shape)
    for axis, index_shape in zip(chosen, index_shapes):
        side = shape[axis]
        parts[axis] = draw(hnp.arrays(np.int64, index_shape,
                                      elements=st.integers(-side, side - 1)))
    if draw(st.booleans()):                               # a plain int or a slice elsewhere
        rest = [i for i in range(len(shape)) if i not in chosen and shape[i]]
        if rest:
            axis = draw(st.sampled_from(rest))
            parts[axis] = draw(st.integers(-shape[axis], shape[axis] - 1) |
                               st.just(slice(None, None, -1)))
    return tuple(parts)


@st.composite
def mask_indices(draw, shape: tuple):
    """An index with a boolean mask covering axes ``start`` to ``start + k`` of ``shape``."""
    start = draw(st.integers(0, len(shape) - 1))
    stop = draw(st.integers(start + 1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[start:stop], elements=st.booleans()))
    return (slice(None),) * start + (mask,)
