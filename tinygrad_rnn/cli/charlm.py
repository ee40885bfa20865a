"""``train charlm`` and ``sample``: the character-level language model, end to end.

Training never loses work:

* everything is checked before the first step (arguments, the corpus and its splits, the
  sampling prime, the checkpoint to resume, that ``--out`` can be written), and ``--out`` is
  created only then;
* one run per ``--out`` (an exclusive lock), and a checkpoint this run did not write is
  replaced only with ``--resume`` (that very file) or ``--overwrite``;
* SIGINT, SIGTERM and SIGHUP stop at the next step boundary with a checkpoint and exit
  130, 143 or 129; a non-finite loss or weight stops without saving (the last good
  checkpoint stays);
* a checkpoint holds the model, the optimizer, the random generators, the position in the
  text and the carried hidden state, so ``--resume`` continues bit for bit as if the run
  had never stopped.
"""
from __future__ import annotations

import math
import os
import sys
import time

from .. import data
from .folder_lock import FolderLock
from .runtime import make_out_dir, prepare_device
from .stop_signals import StopSignals

CHECKPOINT = "charlm.ckpt"
FORMAT_VERSION = 2     # 2: settings, data position, hidden state and generators saved too

# flag -> (key in CharLM.config, default): the model's shape, fixed once trained
ARCHITECTURE = {"cell": ("cell", "lstm"), "layers": ("num_layers", 1),
                "hidden": ("hidden_size", 256), "embedding": ("embedding_dim", 64),
                "dropout": ("dropout", 0.0)}
# flag -> default: how it is optimised, fixed too (the optimizer's state depends on it)
OPTIMIZATION = {"optimizer": "adam", "lr": 2e-3}
# flag -> default: may change on --resume; changing the data restarts it at its beginning
DATA = {"corpus": "tinyshakespeare", "seq_len": 64, "batch": 32}
TRAINING = {"clip": 5.0}
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")


def register_train(subcommands, common) -> None:
    train = subcommands.add_parser("train", help="train a model")
    kinds = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = kinds.add_parser("charlm", parents=[common], help="character-level language model",
                         description="Train a character-level language model by truncated BPTT, "
                         "printing samples as it learns. With --resume, settings not given are "
                         "the checkpoint's; architecture and optimizer flags that contradict it "
                         "are refused.")
    # defaults of None: "not given", so --resume can take the checkpoint's value instead
    p.add_argument("--corpus", default=None,
                   help="bundled corpus (tinyshakespeare, sonnets, war_and_peace, korean) or a "
                   "path to a UTF-8 text file (default: tinyshakespeare)")
    p.add_argument("--cell", default=None, choices=("rnn", "lstm", "gru", "mut1", "mut2", "mut3"),
                   help="recurrent cell (default: lstm)")
    p.add_argument("--layers", type=int, default=None, help="stacked layers (default: 1)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default: 256)")
    p.add_argument("--embedding", type=int, default=None, help="embedding width (default: 64; "
                   "MUT cells use --hidden)")
    p.add_argument("--dropout", type=float, default=None, help="dropout between layers (default: 0)")
    p.add_argument("--seq-len", type=int, default=None, help="BPTT window T (default: 64)")
    p.add_argument("--batch", type=int, default=None, help="parallel text rows B (default: 32)")
    p.add_argument("--steps", type=int, default=1000,
                   help="total training steps, counted from the start of training: with "
                   "--resume, the step to stop at, not the number of further steps (default: 1000)")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="(default: adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.002)")
    p.add_argument("--clip", type=float, default=None,
                   help="max gradient norm; 0 turns clipping off (default: 5)")
    p.add_argument("--sample-every", type=int, default=250, help="0: never")
    p.add_argument("--eval-every", type=int, default=250, help="0: never")
    p.add_argument("--eval-batches", type=int, default=20, help="validation windows per evaluation")
    p.add_argument("--checkpoint-every", type=int, default=500,
                   help="steps between checkpoints (0: only at the end or when stopped)")
    p.add_argument("--sample-length", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="0: always the likeliest symbol")
    p.add_argument("--prime", default=None, help="text the samples start from (default: a "
                   "newline, or the corpus's first symbol if it has none)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a saved checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a checkpoint in --out that this run did not write")
    p.set_defaults(run=train_charlm)


def register_sample(subcommands, common) -> None:
    p = subcommands.add_parser("sample", parents=[common], help="generate text from a checkpoint",
                               description="Generate text from a trained character-level model.")
    p.add_argument("checkpoint", help="a checkpoint written by 'train charlm'")
    p.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8, help="0: always the likeliest symbol")
    p.add_argument("--top-k", type=int, default=None)
    p.set_defaults(run=sample)


# ------------------------------------------------------------------ checkpoints
def load_checkpoint(path: str, device: str):
    """The model, vocabulary and raw checkpoint saved by ``train charlm``. The config is
    checked against the arrays in the file before the model is built, so a file that claims
    a huge model is refused instead of allocated."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import CharLM, Vocabulary
    if not os.path.lexists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    checkpoint = tg.load(path, map_location=device)
    kind = checkpoint.get("kind") if isinstance(checkpoint, dict) else None
    if kind != "charlm":
        hint = (" (a tg.save file of your own; 'sample' reads what 'train charlm' writes)"
                if kind is None else "")
        raise ValueError(f"{path!r} holds a {kind or 'plain tg.save'} checkpoint, not a "
                         f"charlm model{hint}")
    try:
        vocabulary = Vocabulary.from_dict(checkpoint["vocabulary"])
        config = _checked_config(checkpoint["config"], checkpoint["model"], len(vocabulary))
    except (KeyError, TypeError, ValueError) as error:
        raise tg.CheckpointError(f"{path}: not a usable charlm checkpoint: {error}") from None
    model = CharLM(**config).to(device)
    model.load_state_dict(checkpoint["model"])
    return model, vocabulary, checkpoint


def _checked_config(config: dict, state: dict, vocab_size: int) -> dict:
    """``config`` if it describes the arrays of ``state``; ValueError otherwise."""
    from tinygrad_rnn.models import CELLS
    if not isinstance(config, dict):
        raise ValueError("its config is not a dict")
    sizes = {}
    for key in ("vocab_size", "hidden_size", "num_layers", "embedding_dim"):
        value = config.get(key)
        if type(value) is not int or value < 1:
            raise ValueError(f"config {key} = {value!r} is not a positive int")
        sizes[key] = value
    if config.get("cell") not in CELLS:
        raise ValueError(f"config cell = {config.get('cell')!r} is not one of {', '.join(CELLS)}")
    dropout = config.get("dropout", 0.0)
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"config dropout = {dropout!r} is not in [0, 1)")
    V, H, L, E = (sizes[k] for k in ("vocab_size", "hidden_size", "num_layers", "embedding_dim"))
    if V != vocab_size:
        raise ValueError(f"config vocab_size {V} but the vocabulary has {vocab_size} symbols")
    expected = {"embedding.weight": (V, E), "head.weight": (V, H)}
    for name, shape in expected.items():
        found = tuple(getattr(state.get(name), "shape", ()) or ())
        if found != shape:
            raise ValueError(f"config says {name} is {shape} but the file holds {found or 'none'}")
    present = sum(math.prod(getattr(v, "shape", ())) for v in state.values())
    at_least = V * E + V * H + L * H * H          # every cell has an H x H matrix per layer
    if at_least > present:
        raise ValueError(f"config ({L} layers of {H}) needs at least {at_least:,} parameters "
                         f"but the file holds {present:,}")
    return dict(config)


def _save(path: str, run: dict, step: int, state, losses: list) -> None:
    import tinygrad_rnn as tg
    model, optimizer = run["model"], run["optimizer"]
    tg.save({"kind": "charlm", "version": FORMAT_VERSION, "config": model.config,
             "vocabulary": run["vocabulary"].to_dict(), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": None, "step": step,
             "settings": run["settings"], "data": dict(run["position"]),
             "hidden": state, "rng": tg.get_rng_state(), "recent_losses": losses[-50:]}, path)


# ------------------------------------------------------------------ checks
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
    _not_negative(args, "sample_every", "eval_every", "checkpoint_every")
    _finite(args, "lr", "clip", "dropout", "temperature")
    _not_negative(args, "lr", "clip", "temperature")
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


def _contradictions(args, checkpoint: dict) -> list[str]:
    """The architecture and optimizer flags given that differ from the checkpoint's."""
    config, settings = checkpoint["config"], checkpoint.get("settings") or {}
    found = []
    for flag, (key, _) in ARCHITECTURE.items():
        given = getattr(args, flag)
        if given is not None and given != config.get(key):
            found.append(f"--{flag} {given} (checkpoint: {config.get(key)})")
    for flag in OPTIMIZATION:
        given, saved = getattr(args, flag), settings.get(flag)
        if given is not None and saved is not None and given != saved:
            found.append(f"--{flag} {given} (checkpoint: {saved})")
    return found


def _settings(args, checkpoint: dict | None) -> dict:
    """The run's data, optimizer and training settings: the flags given, else the
    checkpoint's, else the defaults."""
    saved = (checkpoint or {}).get("settings") or {}
    settings = {}
    for flag, default in {**OPTIMIZATION, **DATA, **TRAINING}.items():
        given = getattr(args, flag)
        settings[flag] = given if given is not None else saved.get(flag, default)
    return settings


def _architecture(args) -> dict:
    return {key: (getattr(args, flag) if getattr(args, flag) is not None else default)
            for flag, (key, default) in ARCHITECTURE.items()}


def _split(ids: list, settings: dict, eval_every: int) -> tuple[int, int]:
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


def _prime(args, vocabulary, text: str) -> str:
    prime = args.prime if args.prime is not None else ("\n" if "\n" in vocabulary else text[0])
    missing = sorted(set(prime) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the vocabulary lacks: {''.join(missing)!r}")
    return prime


def _encode(vocabulary, text: str, corpus: str):
    missing = sorted(set(text) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"corpus {corpus!r} has symbols the checkpoint's vocabulary lacks: "
                         f"{''.join(missing[:20])!r}")
    return vocabulary.encode(text)


def _optimizer(name: str, parameters, lr: float):
    from tinygrad_rnn import optim
    return {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD,
            "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}[name](parameters, lr=lr)


# ------------------------------------------------------------------ the steps
def evaluate(model, streams, seq_len: int, max_windows: int) -> float:
    """Mean validation cross-entropy (nats per symbol) over the first windows of ``streams``."""
    import tinygrad_rnn as tg
    import tinygrad_rnn.functional as F
    from tinygrad_rnn.models import bptt_windows
    model.eval()
    total, count, state = 0.0, 0, None
    with tg.no_grad():
        for k, (x, y) in enumerate(bptt_windows(streams, seq_len)):
            if k >= max_windows:
                break
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
            count += 1
    model.train()
    return total / max(count, 1)


def _all_finite(model) -> bool:
    from tinygrad_rnn.backends import backend_for
    return all(bool(backend_for(p.data).xp.isfinite(p.data).all()) for p in model.parameters())


class Diverged(Exception):
    """A non-finite loss, gradient or weight: training cannot go on."""


def _train_step(run: dict, x, y, state, clip: float):
    """One truncated-BPTT update; returns (loss, new state). Nothing is changed if the loss
    or the gradient is not finite; Diverged is raised instead."""
    import tinygrad_rnn.functional as F
    from tinygrad_rnn.models import detach_state
    from tinygrad_rnn.nn.utils import clip_grad_norm_
    model, optimizer = run["model"], run["optimizer"]
    logits, state = model(x, state)
    state = detach_state(state)            # truncated BPTT: gradients stop at the window
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    value = loss.item()
    if not math.isfinite(value):
        raise Diverged(f"the loss is {value}")
    optimizer.zero_grad()
    loss.backward()
    if clip > 0:
        norm = float(clip_grad_norm_(model.parameters(), clip).item())
        if not math.isfinite(norm):
            raise Diverged(f"the gradient norm is {norm}")
    optimizer.step()
    if not _all_finite(model):
        raise Diverged("a weight became non-finite in the update")
    return value, state


def train_charlm(args) -> int:
    return fit_charlm(args)["exit_code"]


def fit_charlm(args) -> dict:
    """Train as ``train charlm`` does; returns the exit code and the last validation loss."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import CharLM, Vocabulary, batchify, window_count

    check_train_arguments(args)
    check_out_folder(args.out)
    lock = FolderLock(args.out, "train charlm")
    if os.path.isdir(args.out):              # a second run on a busy folder stops at once
        lock.acquire()
    try:
        device = prepare_device(args)
        checkpoint = None
        if args.resume:
            model, vocabulary, checkpoint = load_checkpoint(args.resume, device)
            contradictions = _contradictions(args, checkpoint)
            if contradictions:
                raise ValueError("flags that contradict the checkpoint given to --resume: "
                                 + "; ".join(contradictions) + "; leave them out (the "
                                 "checkpoint's are used) or start a new run in another --out")
            done = int(checkpoint["step"])
            if done >= args.steps:
                raise ValueError(f"{args.resume!r} is already at step {done} and --steps "
                                 f"{args.steps} is the total, counted from the start; nothing to "
                                 f"do (pass --steps {done + args.steps} to train {args.steps} "
                                 "more)")
        settings = _settings(args, checkpoint)
        text = data.load_text(settings["corpus"])
        if checkpoint is None:
            vocabulary = Vocabulary.from_text(text)
        ids = _encode(vocabulary, text, settings["corpus"])
        cut, val_rows = _split(ids, settings, args.eval_every)
        prime = _prime(args, vocabulary, text) if args.sample_every or args.prime else None
        ckpt_path = os.path.join(args.out, CHECKPOINT)
        _check_overwrite(args, ckpt_path)
        make_out_dir(args.out)
        lock.acquire()                       # a no-op if already held
        _check_overwrite(args, ckpt_path)    # again, now that no other run can write it

        if checkpoint is None:
            model = CharLM(vocab_size=len(vocabulary), **_architecture(args)).to(device)
        T, B = settings["seq_len"], settings["batch"]
        run = {"model": model, "vocabulary": vocabulary, "settings": settings,
               "optimizer": _optimizer(settings["optimizer"], model.parameters(), settings["lr"]),
               "position": {"window": 0, "pass": 0, "corpus": settings["corpus"],
                            "batch": B, "seq_len": T, "symbols": len(ids)}}
        train_streams = batchify(ids[:cut], B, device)
        val_streams = batchify(ids[cut:], val_rows, device) if args.eval_every else None
        step, state, losses = _restore(run, checkpoint, device)
        windows = window_count(train_streams, T)

        print(f"corpus {settings['corpus']!r}: {len(ids):,} symbols, vocabulary {len(vocabulary)};"
              f" model {model.config['cell']} {model.config['num_layers']}x"
              f"{model.config['hidden_size']} on {device}; "
              f"{sum(p.numel() for p in model.parameters()):,} parameters"
              + (f"; resuming at step {step}" if checkpoint is not None else ""), flush=True)
        return _loop(args, run, step, state, losses, train_streams, val_streams, windows,
                     prime, ckpt_path, checkpoint)
    finally:
        lock.release()


def _check_overwrite(args, ckpt_path: str) -> None:
    if not os.path.lexists(ckpt_path) or args.overwrite:
        return
    if args.resume and os.path.exists(args.resume) and os.path.samefile(args.resume, ckpt_path):
        return
    raise ValueError(f"--out {args.out!r} already holds {CHECKPOINT} from another run; "
                     f"continue it with --resume {ckpt_path}, replace it with --overwrite, or "
                     "pick another --out")


def _restore(run: dict, checkpoint: dict | None, device: str):
    """(step, hidden state, recent losses) from the checkpoint, and the optimizer, data
    position and random generators put back; a fresh start without one."""
    import tinygrad_rnn as tg
    if checkpoint is None:
        return 0, None, []
    run["optimizer"].load_state_dict(checkpoint["optimizer"])
    saved = checkpoint.get("data") or {}
    same_data = all(saved.get(k) == run["position"][k]
                    for k in ("corpus", "batch", "seq_len", "symbols"))
    state = None
    if same_data:
        run["position"].update(window=int(saved["window"]), **{"pass": int(saved["pass"])})
        state = checkpoint.get("hidden")
    elif saved:
        print("note: --corpus, --batch or --seq-len differ from the checkpoint's, so the text "
              "starts again from its beginning")
    if checkpoint.get("rng") is not None:
        tg.set_rng_state(checkpoint["rng"])
    return int(checkpoint["step"]), state, list(checkpoint.get("recent_losses") or [])


def _loop(args, run, step, state, losses, train_streams, val_streams, windows, prime,
          ckpt_path, checkpoint) -> dict:
    from tqdm import tqdm
    model, settings, position = run["model"], run["settings"], run["position"]
    T = settings["seq_len"]
    val, saved_step = None, (step if checkpoint is not None and args.resume
                             and os.path.exists(ckpt_path)
                             and os.path.samefile(args.resume, ckpt_path) else None)
    started, first_step = time.perf_counter(), step
    progress = tqdm(total=args.steps, initial=min(step, args.steps), unit="step",
                    dynamic_ncols=True, mininterval=0.5)
    try:
        with StopSignals() as stop:
            while step < args.steps and stop.received is None:
                if position["window"] >= windows:    # one pass over the text done: again
                    position.update(window=0, **{"pass": position["pass"] + 1})
                    state = None
                offset = position["window"] * T
                x = train_streams[:, offset:offset + T]
                y = train_streams[:, offset + 1:offset + T + 1]
                try:
                    loss, state = _train_step(run, x, y, state, settings["clip"])
                except Diverged as why:
                    progress.close()
                    kept = (f"{ckpt_path} still holds step {saved_step}" if saved_step is not None
                            else f"{ckpt_path} is as it was" if os.path.exists(ckpt_path)
                            else "no checkpoint was written")
                    print(f"tinygrad-rnn train: error: stopped at step {step + 1}: {why}; "
                          f"nothing saved ({kept}); try a smaller --lr", file=sys.stderr)
                    return {"exit_code": 1, "validation_nats": val, "steps": step}
                step += 1
                position["window"] += 1
                losses.append(loss)
                del losses[:-50]
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}")
                if val_streams is not None and (step % args.eval_every == 0 or step == args.steps):
                    val = evaluate(model, val_streams, T, args.eval_batches)
                    train_avg = sum(losses) / len(losses)
                    progress.write(f"step {step}: train {train_avg:.3f} nats "
                                   f"({train_avg / math.log(2):.3f} bits) | validation {val:.3f} "
                                   f"nats ({val / math.log(2):.3f} bits) per char")
                if args.sample_every and (step % args.sample_every == 0 or step == args.steps):
                    text_out = model.generate(run["vocabulary"], prime, length=args.sample_length,
                                              temperature=args.temperature, seed=args.seed + step)
                    progress.write(f"--- sample at step {step} ---\n{text_out}\n---")
                if args.checkpoint_every and step % args.checkpoint_every == 0:
                    _save(ckpt_path, run, step, state, losses)
                    saved_step = step
            progress.close()
            _save(ckpt_path, run, step, state, losses)
            if stop.received is not None:
                print(f"interrupted by {stop.name} at step {step}; checkpoint saved to {ckpt_path} "
                      f"(continue with --resume {ckpt_path})", flush=True)
                return {"exit_code": stop.exit_status, "validation_nats": val, "steps": step}
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    print(f"trained {step - first_step} steps in {elapsed:.1f} s; checkpoint: {ckpt_path}")
    return {"exit_code": 0, "validation_nats": val, "steps": step, "seconds": elapsed}


def sample(args) -> int:
    device = prepare_device(args)
    if args.length <= 0:
        raise ValueError(f"--length must be positive, got {args.length}")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ValueError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k <= 0:
        raise ValueError(f"--top-k must be positive, got {args.top_k}")
    if not args.prime:
        raise ValueError("--prime must hold at least one symbol")
    model, vocabulary, _ = load_checkpoint(args.checkpoint, device)
    missing = sorted(set(args.prime) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the model never saw: {''.join(missing)!r}")
    text = model.generate(vocabulary, args.prime, args.length, args.temperature, args.top_k,
                          seed=args.seed)
    print(args.prime + text)
    return 0
