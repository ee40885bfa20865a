"""``demo NAME``: the lecture's examples, each one command with settings that succeed in
minutes on a laptop CPU."""
from __future__ import annotations

import inspect
import time

from .runtime import make_out_dir, prepare_device


def register(subcommands, common) -> None:
    from ..demos import DEMOS
    listing = "; ".join(f"{name}: {text}" for name, (_, text) in DEMOS.items())
    p = subcommands.add_parser("demo", parents=[common], help="run one of the lecture's examples",
                               description=f"Run a lecture example. {listing}.")
    p.add_argument("name", choices=sorted(DEMOS), metavar="NAME", help=", ".join(sorted(DEMOS)))
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the demo's own)")
    p.add_argument("--attention", choices=("bahdanau", "luong", "luong_general"), default=None,
                   help="translation: the attention score (default: bahdanau)")
    p.add_argument("--model", choices=("rnn", "transformer"), default=None,
                   help="translation: the RNN with attention or the Transformer (default: rnn)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..demos import get
    device = prepare_device(args)
    out_dir = make_out_dir(args.out)
    demo = get(args.name)
    options = {"seed": args.seed, "device": device, "out": out_dir}
    if args.steps is not None:
        if args.steps <= 0:
            raise ValueError(f"--steps must be positive, got {args.steps}")
        options["steps"] = args.steps
    if args.attention is not None:
        options["attention"] = args.attention
    if args.model is not None:
        options["model"] = args.model
    accepted = inspect.signature(demo.run).parameters
    for flag in ("attention", "model"):
        if getattr(args, flag) is not None and flag not in accepted:
            raise ValueError(f"--{flag} applies to the translation demo, not {args.name!r}")
    started = time.perf_counter()
    result = demo.run(**{k: v for k, v in options.items() if k in accepted})
    summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in result.items())
    print(f"demo {args.name}: {summary} ({time.perf_counter() - started:.1f} s)")
    return 0 if result.get("success", True) else 1
