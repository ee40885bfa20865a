"""``graph``: draw a recurrent model's forward, backward or rolled graph (and the backward
step-through frames) to files.

Graphviz's layout time grows much faster than the drawing: on a shared 2-core machine an
unrolled LSTM took 0.2 s at 3 steps (134 boxes), 4 s at 10 (330), 34 s at 14 (442) and over
12 minutes at 50 (1,450). So the drawing's boxes are counted before ``dot`` runs and more
than ``--max-nodes`` (default 400) are refused with the flags that make it smaller; and
``dot`` runs under ``--dot-timeout`` (default 60 s), which the message names when it trips.
"""
from __future__ import annotations

import os
import re
import subprocess

MAX_NODES = 400
DOT_TIMEOUT = 60.0

from .runtime import check_new_file, make_out_dir, prepare_device


def register(subcommands, common) -> None:
    p = subcommands.add_parser("graph", parents=[common], help="draw a model's computational graph",
                               description="Unroll a small recurrent layer (or a trained charlm "
                               "checkpoint) over a few steps and render its graphs with Graphviz.")
    p.add_argument("--checkpoint", help="a charlm checkpoint to draw (default: a small fresh layer)")
    p.add_argument("--cell", default="lstm", choices=("rnn", "lstm", "gru", "mut1", "mut2", "mut3"))
    p.add_argument("--steps", type=int, default=3, help="time steps to unroll (default: 3)")
    p.add_argument("--hidden", type=int, default=4, help="hidden width of the fresh layer")
    p.add_argument("--prime", default="To be", help="text fed to a checkpoint's model")
    p.add_argument("--view", default="both", choices=("forward", "backward", "both"))
    p.add_argument("--rolled", action="store_true", help="draw identical steps once ('x T')")
    p.add_argument("--detail", default="op", choices=("op", "cell"),
                   help="op: every tape entry; cell: one box per cell step (a slide)")
    p.add_argument("--gradients", action="store_true", help="colour tensors by log10 ||gradient||")
    p.add_argument("--verbose", action="store_true", help="show each op's VJP formula")
    p.add_argument("--fused", action="store_true", help="fused layer: one node per sweep (layer and direction)")
    p.add_argument("--frames", action="store_true", help="also write the backward step-through")
    p.add_argument("--html", metavar="FILE", help="also write the interactive viewer (one offline "
                   "HTML page: step through backward, click tensors); must not exist yet")
    p.add_argument("--format", default="svg", choices=("svg", "png", "pdf"))
    p.add_argument("--max-nodes", type=int, default=MAX_NODES, metavar="N",
                   help=f"refuse a drawing of more than N boxes before dot lays it out; dot's "
                   f"time grows steeply with size (default: {MAX_NODES}, about 30 s)")
    p.add_argument("--dot-timeout", type=float, default=DOT_TIMEOUT, metavar="SECONDS",
                   help=f"stop dot after this long (default: {DOT_TIMEOUT:g})")
    p.set_defaults(run=run)


def _loss_of_fresh_layer(args):
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import CharLM, Vocabulary
    vocabulary = Vocabulary.from_text("helo")
    model = CharLM(len(vocabulary), args.hidden, args.cell, embedding_dim=3)
    if hasattr(model.rnn, "fused"):
        model.rnn.fused = args.fused
    text = ("hello" * args.steps)[:args.steps + 1]
    return _next_symbol_loss(model, vocabulary, text, tg)


def _loss_of_checkpoint(args, device):
    import tinygrad_rnn as tg
    from .charlm import load_checkpoint
    model, vocabulary, _ = load_checkpoint(args.checkpoint, device)
    if hasattr(model.rnn, "fused"):
        model.rnn.fused = args.fused
    text = (args.prime * (args.steps + 1))[:args.steps + 1]
    missing = sorted(set(text) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the model never saw: {''.join(missing)!r}")
    return _next_symbol_loss(model, vocabulary, text, tg)


def _next_symbol_loss(model, vocabulary, text, tg):
    import tinygrad_rnn.functional as F
    ids = vocabulary.encode(text)
    x = tg.Tensor([ids[:-1]], dtype="int64")
    y = tg.Tensor(ids[1:], dtype="int64")
    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)


def run(args) -> int:
    from .. import viz
    device = prepare_device(args)
    out_dir = make_out_dir(args.out)
    if not 1 <= args.steps <= 200:
        raise ValueError(f"--steps must be between 1 and 200, got {args.steps}")
    if args.max_nodes <= 0 or args.dot_timeout <= 0:
        raise ValueError("--max-nodes and --dot-timeout must be positive")
    if args.html is not None:
        check_new_file("--html", args.html, (".html", ".htm"))
    loss = _loss_of_checkpoint(args, device) if args.checkpoint else _loss_of_fresh_layer(args)
    if args.gradients:
        loss.backward(retain_graph=True)
    views = ("forward", "backward") if args.view == "both" else (args.view,)
    drawings = [(view, viz.draw(loss, view=view, rolled=args.rolled, gradients=args.gradients,
                                verbose=args.verbose, max_nodes=None,
                                detail=args.detail)) for view in views]
    for view, graph in drawings:                  # all refused before dot runs once
        _check_layout_size(args, view, boxes(graph.source))
    if args.html is not None:                     # the page lays out both views (and two small)
        for view in ("forward", "backward"):
            _check_layout_size(args, f"--html {view}", viz.count(viz.Graph(loss), view))
    for view, graph in drawings:
        path = _render(viz, graph, os.path.join(out_dir, f"graph_{view}.{args.format}"), args)
        print(f"{view} graph: {path}")
    if args.html is not None:
        page = viz.html(loss, args.html, max_nodes=None, timeout=args.dot_timeout)
        print(f"interactive viewer: {args.html} ({len(page) / 1e6:.2f} MB)")
    if args.frames:
        frames_dir = os.path.join(out_dir, "frames")
        size = viz.count(viz.Graph(loss), "backward")       # each frame draws the backward view
        _check_layout_size(args, "frames", size)
        try:
            written = viz.write_frames(loss, frames_dir, format=args.format, max_nodes=None,
                                       timeout=args.dot_timeout)
        except subprocess.TimeoutExpired:
            raise _timed_out(args, size, frames_dir) from None
        print(f"backward step-through: {len(written)} frames in {frames_dir}")
    return 0


def boxes(source: str) -> int:
    """The boxes (node statements) of a DOT source: what dot's layout time grows with."""
    return len(re.findall(r"^\s*(?!graph |node |edge |subgraph )\S+ \[label=", source, re.M))


def _check_layout_size(args, view: str, count: int) -> None:
    if count <= args.max_nodes:
        return
    hints = []
    if not args.rolled:
        hints.append("--rolled (identical steps drawn once)")
    if getattr(args, "detail", None) not in (None, "cell"):
        hints.append("--detail cell (one box per cell step)")
    if not args.fused and args.checkpoint is None and args.cell in ("rnn", "lstm", "gru"):
        hints.append("--fused (one box per time step)")
    hints.append(f"fewer --steps (now {args.steps})")
    hints.append(f"--max-nodes {count} to lay it out anyway (dot may take minutes)")
    raise ValueError(f"the {view} drawing has {count:,} boxes, more than --max-nodes "
                     f"{args.max_nodes:,}; Graphviz would take long to lay it out. Use "
                     + ", or ".join(hints))


def _render(viz, graph, path: str, args):
    try:
        return viz.render(graph, path, args.format, timeout=args.dot_timeout)
    except subprocess.TimeoutExpired:
        source = os.path.splitext(path)[0] + ".dot"
        with open(source, "w", encoding="utf-8") as f:
            f.write(graph.source)
        raise _timed_out(args, boxes(graph.source), source) from None


def _timed_out(args, count: int, where: str) -> RuntimeError:
    return RuntimeError(f"dot did not finish laying out {count:,} boxes within --dot-timeout "
                        f"{args.dot_timeout:g} s and was stopped (DOT source: {where}); draw less "
                        "(--rolled, fewer --steps) or allow more time with --dot-timeout")
