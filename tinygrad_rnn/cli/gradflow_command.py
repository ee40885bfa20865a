"""``gradflow``: the vanishing-gradient comparison of RNN, LSTM and GRU, as a table and a plot."""
from __future__ import annotations

import math
import os

from .runtime import make_out_dir, prepare_device


def register(subcommands, common) -> None:
    p = subcommands.add_parser("gradflow", parents=[common],
                               help="vanishing gradients: RNN vs LSTM vs GRU",
                               description="Run an RNN, an LSTM and a GRU over the same sequence "
                               "and report ||dL/dh_t|| for every step t, for a loss on the last step.")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--gate-bias", type=float, default=1.0,
                   help="added to the LSTM forget-gate and GRU update-gate biases (default: 1)")
    p.add_argument("--every", type=int, default=5, help="table rows every N steps")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..viz import vanishing
    if args.steps < 2:
        raise ValueError(f"--steps must be at least 2, got {args.steps}")
    for flag, value in (("--hidden", args.hidden), ("--every", args.every)):
        if value <= 0:
            raise ValueError(f"{flag} must be positive, got {value}")
    if not math.isfinite(args.gate_bias):
        raise ValueError(f"--gate-bias must be a finite number, got {args.gate_bias}")
    device = prepare_device(args)
    out_dir = make_out_dir(args.out)             # only once the arguments are known good
    norms = vanishing.vanishing_gradients(args.steps, args.hidden, seed=args.seed, device=device,
                                          gate_bias=args.gate_bias)
    print(vanishing.format_table(norms, every=args.every))
    try:
        path = vanishing.plot(norms, os.path.join(out_dir, "gradflow.png"),
                              hidden_size=args.hidden, gate_bias=args.gate_bias)
        print(f"plot: {path}")
    except ImportError as error:
        print(f"no plot: {error}")
    return 0
