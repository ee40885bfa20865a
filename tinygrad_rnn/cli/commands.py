"""The list of subcommands; each module registers its own parser and ``run``."""
from __future__ import annotations

from . import charlm, demo_command, gradcheck_command, gradflow_command, graph_command

REGISTRY = [charlm.register_train, charlm.register_sample, graph_command.register,
            gradflow_command.register, gradcheck_command.register, demo_command.register]
