"""What every subcommand does first: pick the device and the BLAS threads, seed, make the
output folder."""
from __future__ import annotations

import os

# The models' matrix products are small (hidden 256, batch 32), so OpenBLAS's extra threads
# mostly spin and wait for cores other jobs hold: `train charlm --steps 40` on a shared 2-core
# machine (load average 8) took 23-28 s with one BLAS thread and 177-213 s with two
# (OpenBLAS's default there), three runs each, interleaved.
DEFAULT_BLAS_THREADS = 1


def prepare_device(args) -> str:
    """Normalise ``--device`` (else $TINYGRAD_RNN_DEVICE, else cpu), make it the default, check
    it works, set the BLAS threads, seed its generator. What was chosen, and why, is left in
    ``args.chosen`` for the command's first line (stdout stays the command's own output:
    ``sample`` prints only the text)."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.backends import backend_for_device
    from tinygrad_rnn.device import normalize_device
    if args.device:
        chosen, source = args.device, "--device"
    elif os.environ.get("TINYGRAD_RNN_DEVICE"):
        chosen, source = os.environ["TINYGRAD_RNN_DEVICE"], "$TINYGRAD_RNN_DEVICE"
    else:
        chosen, source = "cpu", "default"
    device = normalize_device(chosen)
    backend_for_device(device)        # raises, saying what is missing, if CUDA is unusable
    threads = limit_blas_threads(getattr(args, "threads", None))
    tg.set_default_device(device)
    tg.manual_seed(args.seed)
    args.chosen = f"{device} ({source}), {threads}"
    return device


def limit_blas_threads(requested: int | None) -> str:
    """Cap NumPy's BLAS thread pool (through threadpoolctl; the pool already exists when the
    CLI runs, so environment variables would come too late); says what was chosen."""
    if requested is not None and requested <= 0:
        raise ValueError(f"--threads must be positive, got {requested}")
    threads = DEFAULT_BLAS_THREADS if requested is None else requested
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "BLAS threads left as they are (install threadpoolctl to set them)"
    threadpool_limits(limits=threads, user_api="blas")
    origin = "--threads" if requested is not None else "default; --threads N to change"
    return f"{threads} BLAS thread{'s' if threads != 1 else ''} ({origin})"


def make_out_dir(path: str) -> str:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {path!r} exists and is not a directory")
    os.makedirs(path, exist_ok=True)
    return path


def check_new_file(flag: str, path: str, suffixes: tuple[str, ...]) -> None:
    """Before any work: ``path`` names a new file ending in one of ``suffixes`` in a folder
    that exists (nothing is replaced unasked)."""
    if not path.lower().endswith(suffixes):
        raise ValueError(f"{flag} {path!r}: name the file {' or '.join(suffixes)}")
    if os.path.lexists(path):
        raise ValueError(f"{flag} {path!r} exists; remove it or pick another name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path!r}: the folder {folder!r} does not exist")
