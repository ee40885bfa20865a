"""What ``train charlm`` checks before its first step, and how its settings are chosen.

Every flag, and every fact derived from the flags (the corpus splits hold a window, the
sampling prime is in the vocabulary, ``--out`` can be written, the checkpoint to resume agrees
with the architecture and optimizer flags given), is checked here, before anything is
written; a problem is one ValueError, printed by the CLI as one line.
"""
from __future__ import annotations

import math
import os

from .charlm_checkpoint import CHECKPOINT
from .charlm_gpt import GPT_ARCHITECTURE, GPT_ONLY, gpt_contradictions, wants_gpt

# flag -> (key in CharLM.config, default): the model's shape, fixed once trained
ARCHITECTURE = {"cell": ("cell", "lstm"), "layers": ("num_layers", 1),
                "hidden": ("hidden_size", 256), "embedding": ("embedding_dim", 64),
                "dropout": ("dropout", 0.0)}
# flag -> default: how it is optimised, fixed too (the optimizer's state depends on it)
OPTIMIZATION = {"optimizer": "adam", "lr": 2e-3, "lr_decay": 1.0, "lr_decay_every": 0,
                "lr_schedule": "step", "warmup": 0}
SCHEDULES = ("step", "cosine")
COSINE_FLOOR = 0.1      # the cosine schedule ends at lr / 10 (nanoGPT's min_lr = lr / 10)
# flag -> default: may change on --resume; changing the data restarts it at its beginning
DATA = {"corpus": "tinyshakespeare", "seq_len": 64, "batch": 32}
TRAINING = {"clip": 5.0}
# --model gpt's own defaults. Measured on tiny-shakespeare, 2 shared cores, 5 minutes each: 32
# windows of 128 symbols at lr 2e-3 reached 2.69 nats/char (100 steps), 16 windows of 64 at
# 3e-3 reached 2.43 (750 steps), and 1.95 in 15 minutes: a Transformer this size needs many
# updates to leave the bigram plateau, so smaller, cheaper steps win at equal wall time
# Then (2026-12-02) a warm-up of 100 steps and a cosine decay to lr/10 at --steps, with each
# pass over the text cut into windows at a new offset: 1.97 after 1,000 steps (the constant
# rate: 2.34), 1.64 after 4,000 in 14 minutes, past the 5-gram's 1.75 (charlm_gpt.py)
GPT_TRAINING = {"seq_len": 64, "batch": 16, "lr": 3e-3, "lr_schedule": "cosine", "warmup": 100}
STEPS = {"recurrent": 1000, "gpt": 4000}


def _positive(args, *names) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")


def _not_negative(args, *names) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and not value >= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")


def _finite(args, *names) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise ValueError(f"--{name.replace('_', '-')} must be a finite number, got {value}")


def check_train_arguments(args) -> None:
    """Every flag on its own, before anything is read or written."""
    _positive(args, "layers", "hidden", "embedding", "seq_len", "batch", "steps",
              "eval_batches", "sample_length")
    _not_negative(args, "sample_every", "eval_every", "checkpoint_every", "lr_decay_every",
                  "warmup")
    _finite(args, "lr", "clip", "dropout", "temperature", "lr_decay")
    _not_negative(args, "lr", "clip", "temperature")
    _positive(args, "lr_decay")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise ValueError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.embedding is not None and (args.cell or "").startswith("mut"):
        raise ValueError(f"--embedding does not apply to --cell {args.cell}: MUT cells add the "
                         "input to the state, so the embedding is --hidden wide")
    if args.prime is not None and not args.prime:
        raise ValueError("--prime must hold at least one symbol")


def check_out_folder(path: str) -> None:
    """``--out`` is (or can be made) a writable folder; nothing is created."""
    import tempfile
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {path!r} exists and is not a directory")
    probe_in = os.path.abspath(path)
    while not os.path.isdir(probe_in):
        parent = os.path.dirname(probe_in)
        if os.path.exists(probe_in) or parent == probe_in:
            raise ValueError(f"--out {path!r} cannot be created: {probe_in!r} is not a directory")
        probe_in = parent
    try:                                # access() says yes to root even on read-only mounts
        with tempfile.TemporaryFile(dir=probe_in):
            pass
    except OSError as error:
        raise ValueError(f"--out {path!r} is not writable ({probe_in}: "
                         f"{error.strerror or error})") from None


def contradictions(args, checkpoint: dict) -> list[str]:
    """The architecture and optimizer flags given that differ from the checkpoint's."""
    config, settings = checkpoint["config"], checkpoint.get("settings") or {}
    found = []
    if config.get("architecture") == "gpt":
        found += gpt_contradictions(args, config)
    else:
        if args.architecture == "gpt":
            found.append("--model gpt (checkpoint: recurrent)")
        found += [f"--{f.replace('_', '-')} {getattr(args, f)} (the checkpoint is recurrent)"
                  for f in GPT_ONLY if getattr(args, f) is not None]
        for flag, (key, _) in ARCHITECTURE.items():
            given = getattr(args, flag)
            if given is not None and given != config.get(key):
                found.append(f"--{flag} {given} (checkpoint: {config.get(key)})")
    for flag in OPTIMIZATION:
        given, saved = getattr(args, flag), settings.get(flag)
        if given is not None and saved is not None and given != saved:
            found.append(f"--{flag.replace('_', '-')} {given} (checkpoint: {saved})")
    return found


def settings_of(args, checkpoint: dict | None) -> dict:
    """The run's data, optimizer and training settings: the flags given, else the
    checkpoint's, else the defaults."""
    saved = (checkpoint or {}).get("settings") or {}
    settings = {}
    for flag, default in {**OPTIMIZATION, **DATA, **TRAINING}.items():
        given = getattr(args, flag)
        settings[flag] = given if given is not None else saved.get(flag, default)
    new_gpt = wants_gpt(args, checkpoint) and not saved   # a checkpoint keeps what it ran
    if new_gpt:
        context = args.context if args.context is not None else GPT_ARCHITECTURE["context"][1]
        for flag, default in GPT_TRAINING.items():
            if getattr(args, flag) is None:
                settings[flag] = min(default, context) if flag == "seq_len" else default
    # a GPT cuts each pass into windows at a new offset (charlm.pass_start); older
    # checkpoints, without the key, did not
    settings["shifted_passes"] = saved.get("shifted_passes", new_gpt)
    # the cosine's length is the first run's --steps: a resumed run that goes on longer
    # continues at the floor instead of jumping back up
    settings["schedule_steps"] = saved.get("schedule_steps", args.steps)
    settings["steps"] = args.steps       # this run's total: a resume without --steps goes on to it
    if settings["lr_schedule"] == "cosine" and (settings["lr_decay"] != 1.0
                                                or settings["lr_decay_every"]):
        raise ValueError("--lr-decay and --lr-decay-every apply to --lr-schedule step; this "
                         "run's schedule is cosine (--lr-schedule cosine, --model gpt's default "
                         "or the checkpoint's), which decays from --lr to --lr/10 at --steps")
    return settings


def total_steps(args, checkpoint: dict | None) -> int:
    """--steps; else, resuming, the total the checkpoint's run was going to (older checkpoints:
    the old default, 1000); else the default of the architecture trained."""
    if args.steps is not None:
        return args.steps
    if checkpoint is not None:
        return int((checkpoint.get("settings") or {}).get("steps", STEPS["recurrent"]))
    return STEPS["gpt" if wants_gpt(args, checkpoint) else "recurrent"]


def architecture_of(args) -> dict:
    return {key: (getattr(args, flag) if getattr(args, flag) is not None else default)
            for flag, (key, default) in ARCHITECTURE.items()}


def split_sizes(ids: list, settings: dict, eval_every: int) -> tuple[int, int]:
    """(cut, validation rows): the first 90% trains, the rest validates; both checked to
    hold at least one (B, T) window now, not at the first evaluation."""
    T, B = settings["seq_len"], settings["batch"]
    cut = int(len(ids) * 0.9)
    row_length = cut // B
    if T >= row_length:
        raise ValueError(f"--seq-len {T} is too long for this corpus: {len(ids):,} symbols give "
                         f"training rows of {row_length} in a batch of {B}; use a shorter "
                         "--seq-len, a smaller --batch or a longer text")
    held_out = len(ids) - cut
    val_rows = max(1, min(B, held_out // (T + 1)))
    if eval_every and held_out // val_rows < T + 1:
        raise ValueError(f"the validation split ({held_out:,} symbols, the last 10%) is shorter "
                         f"than one window of --seq-len {T} plus its target; use a shorter "
                         "--seq-len, a longer text, or --eval-every 0")
    return cut, val_rows


def sample_prime(args, vocabulary, text: str) -> str:
    prime = args.prime if args.prime is not None else ("\n" if "\n" in vocabulary else text[0])
    missing = sorted(set(prime) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the vocabulary lacks: {''.join(missing)!r}")
    return prime


def encode_corpus(vocabulary, text: str, corpus: str):
    missing = sorted(set(text) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"corpus {corpus!r} has symbols the checkpoint's vocabulary lacks: "
                         f"{''.join(missing[:20])!r}")
    return vocabulary.encode(text)


class WarmupThen:
    """The rate's factor at step s (LambdaLR's function): (s + 1) / warmup for the first
    ``warmup`` steps, then 1 (``step``: StepLR's decay on top, if any) or a cosine from 1 down
    to COSINE_FLOOR at step ``steps``, flat after it."""

    def __init__(self, settings: dict):
        self.warmup, self.kind = settings["warmup"], settings["lr_schedule"]
        self.steps = settings["schedule_steps"]
        self.decay, self.every = settings["lr_decay"], settings["lr_decay_every"]

    def __call__(self, s: int) -> float:
        if s < self.warmup:
            return (s + 1) / self.warmup
        if self.kind == "step":
            return self.decay ** (s // self.every) if self.every else 1.0
        progress = min(1.0, (s - self.warmup) / max(1, self.steps - self.warmup))
        return COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(settings: dict, parameters):
    """(optimizer, scheduler or None), the scheduler stepped once per training step: StepLR
    when the rate is multiplied by ``lr_decay`` every ``lr_decay_every`` steps, LambdaLR
    (``WarmupThen``) with a warm-up or the cosine schedule, none for a constant rate."""
    from tinygrad_rnn import optim
    optimizer = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD,
                 "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}[settings["optimizer"]](
                     parameters, lr=settings["lr"])
    if settings["warmup"] or settings["lr_schedule"] == "cosine":
        return optimizer, optim.lr_scheduler.LambdaLR(optimizer, WarmupThen(settings))
    if not settings["lr_decay_every"] or settings["lr_decay"] == 1.0:
        return optimizer, None
    return optimizer, optim.lr_scheduler.StepLR(optimizer, settings["lr_decay_every"],
                                                settings["lr_decay"])


def check_overwrite(args, ckpt_path: str) -> None:
    if not os.path.lexists(ckpt_path) or args.overwrite:
        return
    if args.resume and os.path.exists(args.resume) and os.path.samefile(args.resume, ckpt_path):
        return
    raise ValueError(f"--out {args.out!r} already holds {CHECKPOINT} from another run; "
                     f"continue it with --resume {ckpt_path}, replace it with --overwrite, or "
                     "pick another --out")
