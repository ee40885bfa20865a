"""How long drawing a 20,000-node graph takes: the walk, the boxes and the DOT text, not
Graphviz's layout (which is dot's job and much slower at this size).

    python bench/bench_viz.py [--ops 20000] [--repeat 3]

Builds a vanilla-RNN-like chain h = tanh(x_t * w + h * u) in time steps of 4 ops each (so
20,000 tape entries), then times ``viz.draw`` (forward and backward views, and rolled) and
the ``.source`` text. Prints seconds per call; the target is well under 5 s.
"""
from __future__ import annotations

import argparse
import time

import tinygrad_rnn as tg
from tinygrad_rnn import viz


def chain(ops: int):
    """A recurrent chain with ``ops`` tape entries, one ``tg.scope`` per step of 4 ops."""
    w = tg.Tensor([0.5, -0.25], requires_grad=True, name="w")
    u = tg.Tensor([0.9, 0.8], requires_grad=True, name="u")
    h = tg.zeros(2)
    for t in range(ops // 4):
        x = tg.Tensor([0.01 * (t % 7), 0.02], name=f"x{t}")
        with tg.scope(f"t={t}"):
            h = (x * w + h * u).tanh()
    return h.sum()


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    loss = chain(args.ops)
    entries = len(tg.tape(loss))
    boxes = viz.count(viz.Graph(loss), "forward")
    print(f"graph: {entries:,} tape entries, {boxes:,} boxes in the forward view")
    for label, kwargs in [("forward", {}), ("backward", {"view": "backward"}),
                          ("forward, rolled", {"rolled": True})]:
        seconds = timed(lambda: viz.draw(loss, max_nodes=None, **kwargs).source, args.repeat)
        print(f"draw({label}) + .source: {seconds:.2f} s (best of {args.repeat})")


if __name__ == "__main__":
    main()
