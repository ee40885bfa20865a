"""docs/forward_vs_reverse.md: its op counts are recomputed here, and the printed programs
mark the tangent and backward entries."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("forward_vs_reverse",
                                                  ROOT / "bench" / "forward_vs_reverse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_holds_the_op_counts_of_today():
    script = _script()
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", script.PAGE.read_text(), re.M)
    assert [(int(n), int(m)) for n, m, _, _ in rows] == script.SHAPES
    for n, m, forward_ops, reverse_ops in rows:
        found = script.measure(int(n), int(m), repeats=1)
        assert (found["jacfwd"][0], found["jacrev"][0]) == (int(forward_ops), int(reverse_ops)), \
            f"n={n}, m={m}: regenerate with python bench/forward_vs_reverse.py"
    wide, tall = (int(r[2]) / int(r[3]) for r in rows[:2])
    assert wide < 0.1 and tall > 10            # n << m: forward wins; n >> m: reverse wins


def test_the_printed_programs_mark_tangent_and_backward_entries():
    forward, backward = _script().programs()
    assert "; tangent of %3" in forward and "tanh(%2)" in forward
    assert re.search(r"= sum\(%\d+\)   ; tangent of %\d+", forward)
    assert "; backward of" in backward and "tangent" not in backward
    page = (ROOT / "docs" / "forward_vs_reverse.md").read_text()
    assert forward in page and backward in page
