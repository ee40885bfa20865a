"""``tinygrad-rnn`` (also ``python -m tinygrad_rnn``): train, sample, draw and check.

Every subcommand takes ``--device``, ``--seed`` and ``--out``. Bad input ends the program
with one readable line on stderr and exit status 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import sys

from . import commands
from .runtime import DEFAULT_BLAS_THREADS


class UsageError(Exception):
    """Bad input found after argument parsing; printed as one line."""


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: $TINYGRAD_RNN_DEVICE, else cpu)")
    parent.add_argument("--threads", type=int, default=None, metavar="N",
                        help=f"BLAS threads for NumPy's matrix products (default: "
                        f"{DEFAULT_BLAS_THREADS}; more threads than free cores slow training down)")
    parent.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parent.add_argument("--out", default="out", help="directory for everything written (default: out)")
    parent.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-rnn", description="Recurrent networks from scratch: train, sample, "
        "draw graphs, check gradients and run the lecture's examples.")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in commands.REGISTRY:
        register(subcommands, common_options())
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("tinygrad-rnn: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one readable line instead of a traceback
        if getattr(args, "debug", False):
            raise
        print(f"tinygrad-rnn {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: Exception) -> str:
    # KeyError's str() wraps its message in quotes; show the message itself
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
        text = error.args[0]
    else:
        text = str(error)
    return " ".join(text.split()) or type(error).__name__
