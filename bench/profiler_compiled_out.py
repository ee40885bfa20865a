"""The tape's hot functions with every ``STATE.profiler`` test compiled out: the reference that
bench_per_op.py times the current code against, to measure what the profiler's hooks cost when
no profile is open.

The source of each function is rewritten on its syntax tree, as if no profile could ever run:
``profiler = STATE.profiler`` goes, ``if profiler is None: A else: B`` becomes ``A``,
``if profiler is not None: B`` disappears, and ``... or STATE.profiler is not None`` loses its
last clause (in an ``if`` or an assignment). The result is compiled with the function's own module globals (a copy), so it
runs exactly the code it was written as, minus those tests. It refuses if any mention of the
profiler survives, so the reference is profiler-free or there is none.

    patch = compiled_out()          # [(owner, attribute name, current, reference), ...]
    with reference(patch): ...      # runs the reference functions
"""
from __future__ import annotations

import ast
import contextlib
import inspect
import sys
import textwrap

from tinygrad_rnn import engine, function

# (owner, attribute): every place on the op and backward paths that reads STATE.profiler
HOT = [(function.Function, "apply"), (engine, "_visit"), (engine, "run_backward")]


def _is_state_profiler(node) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "profiler"
            and isinstance(node.value, ast.Name) and node.value.id == "STATE")


class _StripProfiler(ast.NodeTransformer):
    def __init__(self):
        self.aliases: set = set()    # local names bound to STATE.profiler
        self.removed = 0

    def _is_profiler(self, node) -> bool:
        return _is_state_profiler(node) or (isinstance(node, ast.Name) and node.id in self.aliases)

    def _known(self, test):
        """True / False when the test only asks whether a profile is open (none is), else None."""
        if (isinstance(test, ast.Compare) and len(test.ops) == 1 and self._is_profiler(test.left)
                and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value is None):
            return isinstance(test.ops[0], ast.Is)
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            values = [self._known(v) for v in test.values]
            if any(v is True for v in values):
                return True
            kept = [v for v, known in zip(test.values, values) if known is not False]
            if len(kept) < len(test.values):
                self.removed += len(test.values) - len(kept)
                if not kept:
                    return False
                test.values[:] = kept
        return None

    def visit_Assign(self, node):
        if _is_state_profiler(node.value):
            self.aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
            self.removed += 1
            return None
        if isinstance(node.value, ast.BoolOp):   # watched = a or b or STATE.profiler is not None
            known = self._known(node.value)
            if known is not None:
                node.value = ast.Constant(known)
            elif len(node.value.values) == 1:
                node.value = node.value.values[0]
        return self.generic_visit(node)

    def visit_If(self, node):
        known = self._known(node.test)
        if isinstance(node.test, ast.BoolOp) and len(node.test.values) == 1:
            node.test = node.test.values[0]
        self.generic_visit(node)
        if known is None:
            return node
        self.removed += 1
        kept = node.body if known else node.orelse
        return kept or None


def _mentions_profiler(tree) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "profiler" or _is_state_profiler(n)
               for n in ast.walk(tree))


def _without_profiler(owner, name: str):
    """(the reference function, how many profiler tests it lost)."""
    current = inspect.unwrap(getattr(owner, name))
    tree = ast.parse(textwrap.dedent(inspect.getsource(current)))
    stripper = _StripProfiler()
    tree = ast.fix_missing_locations(stripper.visit(tree))
    if _mentions_profiler(tree):
        raise RuntimeError(f"{current.__qualname__}: a profiler test this rewrite does not know "
                           "survived; teach bench/profiler_compiled_out.py its shape")
    namespace = dict(sys.modules[current.__module__].__dict__)
    exec(compile(tree, inspect.getsourcefile(current), "exec"), namespace)
    return namespace[current.__name__], stripper.removed


def compiled_out() -> list:
    """[(owner, name, current function, reference function, profiler tests removed)]."""
    rows = []
    for owner, name in HOT:
        reference_function, removed = _without_profiler(owner, name)
        rows.append((owner, name, getattr(owner, name), reference_function, removed))
    return rows


@contextlib.contextmanager
def reference(rows: list):
    """Run with the reference functions in place of the current ones."""
    for owner, name, _, reference_function, _ in rows:
        setattr(owner, name, reference_function)
    try:
        yield
    finally:
        for owner, name, current, _, _ in rows:
            setattr(owner, name, current)
