"""Forward mode vs reverse mode on f: R^n -> R^m, f(x) = tanh(A tanh(x)): ops and time of the
full Jacobian by tg.func.jacfwd (one forward pass with a tangent per input: n passes) and by
tg.func.jacrev (one forward pass, then one backward pass per output: m passes).

Writes docs/forward_vs_reverse.md (the page, with the printed programs and the table):

    python bench/forward_vs_reverse.py [--out docs/forward_vs_reverse.md] [--repeats 5]

Op counts are exact (tg.profile counts every op run, and every VJP of a backward pass);
times are the minimum over --repeats runs on this machine.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg

SHAPES = [(4, 256), (256, 4), (64, 64)]     # (n, m): n << m, n >> m, square
PAGE = Path(__file__).resolve().parents[1] / "docs" / "forward_vs_reverse.md"


def problem(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = tg.tensor(rng.standard_normal((m, n)) / np.sqrt(n), dtype="float64")
    x = tg.tensor(rng.standard_normal(n), dtype="float64")
    return (lambda x: (a @ x.tanh()).tanh()), x


def measure(n: int, m: int, repeats: int = 3) -> dict:
    """{"jacfwd": (ops, seconds), "jacrev": (ops, seconds)} for one shape."""
    f, x = problem(n, m)
    found = {}
    for name in ("jacfwd", "jacrev"):
        transform = getattr(tg.func, name)(f)
        with tg.profile() as prof:
            jacobian = transform(x)
        ops = sum(r.calls + r.backward_calls for r in prof.key_averages())
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            transform(x)
            best = min(best, time.perf_counter() - start)
        found[name] = (ops, best, jacobian.numpy())
    assert np.allclose(found["jacfwd"][2], found["jacrev"][2], rtol=1e-12, atol=1e-14)
    return found


def table(shapes=SHAPES, repeats: int = 3) -> str:
    lines = ["| n (inputs) | m (outputs) | jacfwd ops | jacrev ops | jacfwd time | jacrev time "
             "| faster |", "|---:|---:|---:|---:|---:|---:|---|"]
    for n, m in shapes:
        found = measure(n, m, repeats)
        (fo, ft, _), (ro, rt, _) = found["jacfwd"], found["jacrev"]
        faster = f"jacfwd {rt / ft:.1f}x" if ft < rt else f"jacrev {ft / rt:.1f}x"
        lines.append(f"| {n} | {m} | {fo} | {ro} | {ft * 1e3:.1f} ms | {rt * 1e3:.1f} ms "
                     f"| {faster} |")
    return "\n".join(lines)


def programs() -> str:
    """The tape of one forward-mode evaluation (primal and tangent program) and of a
    create_graph backward (forward and backward program), for f(x) = sum(tanh(x) * x)."""
    x = tg.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    with tg.forward_ad.dual_level():
        dual = tg.forward_ad.make_dual(x, tg.tensor([1.0, 0.0], dtype="float64"))
        y = (dual.tanh() * dual).sum()
        tangent = tg.forward_ad.unpack_dual(y).tangent
        forward = str(tg.tape([y, tangent]))
    value = (x.tanh() * x).sum()
    (g,) = tg.grad(value, x, create_graph=True)
    return forward, str(tg.tape([value, g]))


TEXT = """# Forward mode and reverse mode, side by side

Both modes apply the chain rule to the same tape; they differ in the direction they multiply
the Jacobians of its entries. For y = f(x) with x in R^n and y in R^m:

* **forward mode** (`tg.forward_ad`, `tg.func.jvp`, `tg.func.jacfwd`) pushes a tangent v
  along with the values: every op computes its output's tangent from its inputs' tangents
  (its `jvp`), so one pass gives J v, one column combination of the Jacobian. The full
  Jacobian takes n passes, and nothing has to be stored for later.
* **reverse mode** (`backward`, `tg.grad`, `tg.func.vjp`, `tg.func.jacrev`) records the
  forward pass, then walks the tape backwards with a cotangent u: every entry's `backward`
  (its VJP) turns dL/dy into dL/dx, so one pass gives u^T J, one row combination. The full
  Jacobian takes m passes, and the tape must be kept until backward.

So a gradient (m = 1) is one reverse pass whatever n is: that is why training uses reverse
mode. With few inputs and many outputs, forward mode wins.

## The two programs on one tape

`f(x) = sum(tanh(x) * x)` at x = (0.5, -1) with tangent v = (1, 0), printed with
`tg.tape([y, tangent])`. The tangent program runs next to the primal one, entry by entry
(`; tangent of %k` marks the ops of entry k's JVP: tanh's is tx * (1 - y^2)):

```
{forward}
```

The backward program of `g = tg.grad(f(x), x, create_graph=True)`, printed with
`tg.tape([f(x), g])` (`; backward of %k`: the ops entry k's VJP recorded, starting from the
constant seed dL/dL = 1; the unmarked add at the end sums the two paths into x):

```
{backward}
```

## Ops and time of the full Jacobian

f(x) = tanh(A tanh(x)), A of shape (m, n), float64. Ops: every op run, counted by
`tg.profile` (forward ops, JVP ops and VJPs); time: the best of {repeats} runs on the machine
that generated this page (a shared one: compare within a row).

{table}

jacfwd's op count grows with n (one tangent pass per input), jacrev's with m (one backward
pass per output, after one recorded forward pass). `tests/test_forward_vs_reverse.py`
recomputes the op counts and checks this table still holds them.

Regenerate: `python bench/forward_vs_reverse.py`.
"""


def page(repeats: int = 5) -> str:
    forward, backward = programs()
    return TEXT.format(forward=forward, backward=backward, table=table(repeats=repeats),
                       repeats=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PAGE)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.out.write_text(page(args.repeats))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
