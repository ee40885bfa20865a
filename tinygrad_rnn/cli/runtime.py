"""What every subcommand does first: pick the device, seed, make the output folder."""
from __future__ import annotations

import os


def prepare_device(args) -> str:
    """Normalise ``--device``, make it the default, check it works, seed its generator."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.backends import backend_for_device
    from tinygrad_rnn.device import normalize_device
    device = normalize_device(args.device)
    backend_for_device(device)        # raises, saying what is missing, if CUDA is unusable
    tg.set_default_device(device)
    tg.manual_seed(args.seed)
    return device


def make_out_dir(path: str) -> str:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {path!r} exists and is not a directory")
    os.makedirs(path, exist_ok=True)
    return path
