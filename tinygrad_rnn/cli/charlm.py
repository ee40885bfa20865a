"""``train charlm`` and ``sample``: the character-level language model, end to end.

Training never loses work:

* everything is checked before the first step (arguments, the corpus and its splits, the
  sampling prime, the checkpoint to resume, that ``--out`` can be written), and ``--out`` is
  created only then;
* one run per ``--out`` (an exclusive lock), and a checkpoint this run did not write is
  replaced only with ``--resume`` (that very file) or ``--overwrite``;
* SIGINT, SIGTERM and SIGHUP stop at the next step boundary with a checkpoint and exit
  130, 143 or 129; a non-finite loss, gradient norm or weight stops without saving (the
  last good checkpoint stays) and exits 1;
* a checkpoint holds the model, the optimizer and its schedule, the random generators, the
  position in the text and the carried hidden state, so ``--resume`` continues bit for bit as if the run
  had never stopped.
"""
from __future__ import annotations

import math
import os
import sys
import time

from .. import data
from .charlm_distributed import Replicas
from .charlm_checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .charlm_checks import (architecture_of, check_out_folder, check_overwrite,
                            check_train_arguments, contradictions, encode_corpus, make_optimizer,
                            sample_prime, settings_of, split_sizes, total_steps, SCHEDULES)
from .charlm_gpt import (check_gpt_arguments, check_window, describe, gpt_architecture_of,
                         check_new_png, draw_gpt_attention, register_gpt_flags,
                         sampling_options, wants_gpt)
from .folder_lock import FolderLock
from .runtime import make_out_dir, prepare_device
from .stop_signals import StopSignals

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
    p.add_argument("--layers", type=int, default=None,
                   help="stacked layers (default: 1; --model gpt: 4)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default: 256)")
    p.add_argument("--embedding", type=int, default=None, help="embedding width (default: 64; "
                   "MUT cells use --hidden)")
    p.add_argument("--dropout", type=float, default=None, help="dropout between layers (default: 0)")
    register_gpt_flags(p)
    p.add_argument("--seq-len", type=int, default=None,
                   help="BPTT window T (default: 64; --model gpt: 64, or its --context if shorter)")
    p.add_argument("--batch", type=int, default=None, help="parallel text rows B (default: 32; --model gpt: 16)")
    p.add_argument("--steps", type=int, default=None,
                   help="total training steps, counted from the start of training: with "
                   "--resume, the step to stop at, not the number of further steps (default: "
                   "1000; --model gpt: 4000; with --resume, the resumed run's own total)")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="(default: adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.002; --model gpt: 0.003)")
    p.add_argument("--lr-decay", type=float, default=None,
                   help="multiply the learning rate by this every --lr-decay-every steps "
                   "(default: 1, no decay)")
    p.add_argument("--lr-decay-every", type=int, default=None, help="(default: 0, never)")
    p.add_argument("--lr-schedule", default=None, choices=SCHEDULES,
                   help="step: --lr, times --lr-decay every --lr-decay-every steps; cosine: "
                   "from --lr down to --lr/10 at --steps (default: step; --model gpt: cosine)")
    p.add_argument("--warmup", type=int, default=None,
                   help="steps over which the rate rises linearly to --lr first (default: 0; "
                   "--model gpt: 100)")
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
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of mpiexec -n W (needs the mpi extra): each "
                   "takes B/W rows; rank 0 alone prints and writes checkpoints")
    p.set_defaults(run=train_charlm)


def register_sample(subcommands, common) -> None:
    p = subcommands.add_parser("sample", parents=[common], help="generate text from a checkpoint",
                               description="Generate text from a trained character-level model.")
    p.add_argument("checkpoint", help="a checkpoint written by 'train charlm'")
    p.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8, help="0: always the likeliest symbol")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--attention", metavar="PNG", default=None,
                   help="GPT checkpoints: also draw the attention of every head of every layer "
                   "over the prime's last window (a grid of heat maps) to this new PNG file")
    p.set_defaults(run=sample)


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
    logits, state = run.get("step_model", model)(x, state)
    state = detach_state(state)            # truncated BPTT: gradients stop at the window
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    value = run["replicas"].mean_loss(loss.item()) if "replicas" in run else loss.item()
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
    if run["scheduler"] is not None:
        run["scheduler"].step()
    return value, state


def train_charlm(args) -> int:
    return fit_charlm(args)["exit_code"]


def fit_charlm(args) -> dict:
    """Train as ``train charlm`` does; returns the exit code and the last validation loss."""
    from tinygrad_rnn.models import GPT, CharLM, Vocabulary, batchify

    check_train_arguments(args)
    check_gpt_arguments(args)
    replicas = Replicas(args)
    check_out_folder(args.out)
    lock = replicas.lock(lambda: FolderLock(args.out, "train charlm"))
    if os.path.isdir(args.out):              # a second run on a busy folder stops at once
        lock.acquire()
    try:
        device = prepare_device(args)
        checkpoint = None
        if args.resume:
            model, vocabulary, checkpoint = load_checkpoint(args.resume, device)
        args.steps = total_steps(args, checkpoint)
        if checkpoint is not None:
            clashes = contradictions(args, checkpoint)
            if clashes:
                raise ValueError("flags that contradict the checkpoint given to --resume: "
                                 + "; ".join(clashes) + "; leave them out (the "
                                 "checkpoint's are used) or start a new run in another --out")
            done = int(checkpoint["step"])
            if done >= args.steps:
                raise ValueError(f"{args.resume!r} is already at step {done} and --steps "
                                 f"{args.steps} is the total, counted from the start; nothing to "
                                 f"do (pass --steps {done + args.steps} to train {args.steps} "
                                 "more)")
        settings = settings_of(args, checkpoint)
        replicas.check_batch(settings["batch"])
        if checkpoint is not None:
            check_window(settings["seq_len"], checkpoint["config"])
        text = data.load_text(settings["corpus"])
        if checkpoint is None:
            vocabulary = Vocabulary.from_text(text)
        ids = encode_corpus(vocabulary, text, settings["corpus"])
        cut, val_rows = split_sizes(ids, settings, args.eval_every)
        prime = sample_prime(args, vocabulary, text) if args.sample_every or args.prime else None
        ckpt_path = os.path.join(args.out, CHECKPOINT)
        check_overwrite(args, ckpt_path)
        if replicas.main:
            make_out_dir(args.out)
        lock.acquire()                       # a no-op if already held
        check_overwrite(args, ckpt_path)    # again, now that no other run can write it

        if checkpoint is None and wants_gpt(args):
            model = GPT(vocab_size=len(vocabulary), **gpt_architecture_of(args)).to(device)
        elif checkpoint is None:
            model = CharLM(vocab_size=len(vocabulary), **architecture_of(args)).to(device)
        T, B = settings["seq_len"], settings["batch"]
        optimizer, scheduler = make_optimizer(settings, model.parameters())
        run = {"model": model, "vocabulary": vocabulary, "settings": settings,
               "optimizer": optimizer, "scheduler": scheduler,
               "replicas": replicas, "step_model": replicas.wrap(model),
               "position": {"window": 0, "pass": 0, "corpus": settings["corpus"],
                            "batch": B, "seq_len": T, "symbols": len(ids)}}
        train_streams = replicas.shard_rows(batchify(ids[:cut], B, device))
        val_streams = batchify(ids[cut:], val_rows, device) if args.eval_every else None
        step, state, losses = _restore(run, checkpoint, device)
        state = replicas.shard_state(state)

        print(f"corpus {settings['corpus']!r}: {len(ids):,} symbols, vocabulary {len(vocabulary)};"
              f" model {describe(model.config)} on {args.chosen}; "
              f"{sum(p.numel() for p in model.parameters()):,} parameters"
              + (f"; resuming at step {step}" if checkpoint is not None else "")
              + replicas.describe(), flush=True)
        return _loop(args, run, step, state, losses, train_streams, val_streams, prime,
                     ckpt_path, checkpoint)
    finally:
        lock.release()


def _restore(run: dict, checkpoint: dict | None, device: str):
    """(step, hidden state, recent losses) from the checkpoint, and the optimizer, data
    position and random generators put back; a fresh start without one."""
    import tinygrad_rnn as tg
    if checkpoint is None:
        return 0, None, []
    run["optimizer"].load_state_dict(checkpoint["optimizer"])
    if run["scheduler"] is not None and checkpoint.get("scheduler") is not None:
        run["scheduler"].load_state_dict(checkpoint["scheduler"])
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


def pass_start(settings: dict, pass_number: int, row_length: int) -> int:
    """Where pass ``pass_number``'s first window starts in rows of ``row_length`` symbols: 0
    for the recurrent model (its state runs on from window to window), and for the GPT (which
    sees each window whole, alone) a new offset in [0, T) each pass after the first, the
    fractional parts of pass * golden ratio: without it every pass would show it the very
    same windows. Never so far in that no window (and its targets) fits."""
    if not settings.get("shifted_passes"):
        return 0
    T = settings["seq_len"]
    return min(int(T * ((pass_number * 0.6180339887498949) % 1.0)), row_length - 1 - T)


def _loop(args, run, step, state, losses, train_streams, val_streams, prime, ckpt_path,
          checkpoint) -> dict:
    from tqdm import tqdm
    model, settings, position = run["model"], run["settings"], run["position"]
    replicas = run["replicas"]
    from tinygrad_rnn.models import window_count
    T, row_length = settings["seq_len"], train_streams.shape[1]

    def pass_windows() -> tuple[int, int]:
        """(where this pass's windows start, how many there are): once a pass, not a step"""
        start = pass_start(settings, position["pass"], row_length)
        return start, window_count(train_streams[:, start:], T)
    val, saved_step = None, (step if checkpoint is not None and args.resume
                             and os.path.exists(ckpt_path)
                             and os.path.samefile(args.resume, ckpt_path) else None)
    started, first_step = time.perf_counter(), step
    progress = tqdm(total=args.steps, initial=min(step, args.steps), unit="step",
                    dynamic_ncols=True, mininterval=0.5, disable=not replicas.main)
    try:
        with StopSignals() as stop:
            start, windows = pass_windows()
            while step < args.steps and not replicas.any_rank(stop.received is not None):
                if position["window"] >= windows:    # one pass over the text done: again
                    position.update(window=0, **{"pass": position["pass"] + 1})
                    state = None
                    start, windows = pass_windows()
                offset = start + position["window"] * T
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
                if val_streams is not None and replicas.main and (step % args.eval_every == 0
                                                                  or step == args.steps):
                    val = evaluate(model, val_streams, T, args.eval_batches)
                    train_avg = sum(losses) / len(losses)
                    progress.write(f"step {step}: train {train_avg:.3f} nats "
                                   f"({train_avg / math.log(2):.3f} bits) | validation {val:.3f} "
                                   f"nats ({val / math.log(2):.3f} bits) per char")
                if args.sample_every and replicas.main and (step % args.sample_every == 0
                                                            or step == args.steps):
                    text_out = model.generate(run["vocabulary"], prime, length=args.sample_length,
                                              temperature=args.temperature, seed=args.seed + step,
                                              **sampling_options(model, settings))
                    progress.write(f"--- sample at step {step} ---\n{text_out}\n---")
                if args.checkpoint_every and step % args.checkpoint_every == 0:
                    replicas.save(save_checkpoint, ckpt_path, run, step, state, losses)
                    saved_step = step
            progress.close()
            replicas.save(save_checkpoint, ckpt_path, run, step, state, losses)
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
    if args.attention is not None:
        check_new_png(args.attention)
    model, vocabulary, checkpoint = load_checkpoint(args.checkpoint, device)
    missing = sorted(set(args.prime) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the model never saw: {''.join(missing)!r}")
    options = sampling_options(model, checkpoint.get("settings"))
    if args.attention is not None and model.config.get("architecture") != "gpt":
        raise ValueError(f"--attention draws a GPT's attention; {args.checkpoint!r} holds a "
                         "recurrent model, which has none")
    text = model.generate(vocabulary, args.prime, args.length, args.temperature, args.top_k,
                          seed=args.seed, **options)
    print(args.prime + text)
    if args.attention is not None:
        draw_gpt_attention(args.attention, model, vocabulary, args.prime,
                           options.get("window", model.config["context"]))
    return 0
