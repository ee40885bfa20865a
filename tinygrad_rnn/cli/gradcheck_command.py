"""``gradcheck``: every op's (and model's) gradient against finite differences, as a table."""
from __future__ import annotations

from .runtime import prepare_device


def register(subcommands, common) -> None:
    p = subcommands.add_parser("gradcheck", parents=[common],
                               help="check every op's gradient on a device (proves a GPU set-up)",
                               description="Run gradcheck (and gradgradcheck for smooth ops) on "
                               "every primitive op and recurrent cell, and print a summary table.")
    p.add_argument("--ops-only", action="store_true", help="skip the recurrent cells")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..selfcheck import format_table, run_checks
    device = prepare_device(args)
    results = run_checks(device, include_models=not args.ops_only)
    print(format_table(results, device))
    return 0 if all(r.first_order and r.second_order is not False for r in results) else 1
