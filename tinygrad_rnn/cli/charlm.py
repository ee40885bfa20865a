"""``train charlm`` and ``sample``: the character-level language model, end to end."""
from __future__ import annotations

import math
import os
import time

from .. import data
from .runtime import make_out_dir, prepare_device

CHECKPOINT = "charlm.ckpt"


def register_train(subcommands, common) -> None:
    train = subcommands.add_parser("train", help="train a model")
    kinds = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = kinds.add_parser("charlm", parents=[common], help="character-level language model",
                         description="Train a character-level language model by truncated BPTT, "
                         "printing samples as it learns.")
    p.add_argument("--corpus", default="tinyshakespeare",
                   help="bundled corpus (tinyshakespeare, sonnets, war_and_peace, korean) or a "
                   "path to a UTF-8 text file (default: tinyshakespeare)")
    p.add_argument("--cell", default="lstm", choices=("rnn", "lstm", "gru", "mut1", "mut2", "mut3"))
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embedding", type=int, default=64, help="embedding width (default: 64)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between layers")
    p.add_argument("--seq-len", type=int, default=64, help="BPTT window T (default: 64)")
    p.add_argument("--batch", type=int, default=32, help="parallel text rows B (default: 32)")
    p.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd", "rmsprop", "adagrad"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0, help="max gradient norm; 0 turns clipping off")
    p.add_argument("--sample-every", type=int, default=250)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=20, help="validation windows per evaluation")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--sample-length", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a saved checkpoint")
    p.set_defaults(run=train_charlm)


def register_sample(subcommands, common) -> None:
    p = subcommands.add_parser("sample", parents=[common], help="generate text from a checkpoint",
                               description="Generate text from a trained character-level model.")
    p.add_argument("checkpoint", help="a checkpoint written by 'train charlm'")
    p.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.set_defaults(run=sample)


def load_checkpoint(path: str, device: str):
    """The model, vocabulary and raw checkpoint saved by ``train charlm``."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import CharLM, Vocabulary
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    checkpoint = tg.load(path, map_location=device)
    kind = checkpoint.get("kind") if isinstance(checkpoint, dict) else None
    if kind != "charlm":
        raise ValueError(f"{path!r} is a tg.save file holding {_what_it_holds(checkpoint)}, "
                         "not a checkpoint written by 'train charlm'")
    model = CharLM(**checkpoint["config"]).to(device)
    model.load_state_dict(checkpoint["model"])
    return model, Vocabulary.from_dict(checkpoint["vocabulary"]), checkpoint


def _what_it_holds(saved) -> str:
    """``a 'gru' checkpoint`` / ``a dict with keys 'weight', 'bias'`` / ``a list``: what a
    tg.save file that is not a charlm checkpoint contains."""
    if isinstance(saved, dict):
        if isinstance(saved.get("kind"), str):
            return f"a {saved['kind']!r} checkpoint"
        keys = ", ".join(repr(k) for k in list(saved)[:5]) + (", ..." if len(saved) > 5 else "")
        return f"a dict with keys {keys}" if saved else "an empty dict"
    return f"a {type(saved).__name__}"


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


def train_charlm(args) -> int:
    return fit_charlm(args)["exit_code"]


def fit_charlm(args) -> dict:
    """Train as ``train charlm`` does; returns the exit code and the last validation loss."""
    import tinygrad_rnn as tg
    import tinygrad_rnn.functional as F
    from tqdm import tqdm
    from tinygrad_rnn.models import CharLM, Vocabulary, batchify, bptt_windows, detach_state

    device = prepare_device(args)
    out_dir = make_out_dir(args.out)
    for name in ("layers", "hidden", "seq_len", "batch", "steps"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    text = data.load_text(args.corpus)
    checkpoint = None
    if args.resume:
        model, vocabulary, checkpoint = load_checkpoint(args.resume, device)
    else:
        vocabulary = Vocabulary.from_text(text)
        model = CharLM(len(vocabulary), args.hidden, args.cell, args.layers, args.embedding,
                       args.dropout).to(device)
    ids = _encode(vocabulary, text, args.corpus)
    cut = int(len(ids) * 0.9)              # first 90% to train, last 10% to validate
    row_length = cut // args.batch
    if args.seq_len >= row_length or len(ids) - cut < 2:
        raise ValueError(f"--seq-len {args.seq_len} is too long for this corpus: {len(ids)} "
                         f"symbols give rows of {row_length} in a batch of {args.batch}; use a "
                         "shorter --seq-len, a smaller --batch or a longer text")
    train_streams = batchify(ids[:cut], args.batch, device)
    val_batch = max(1, min(args.batch, (len(ids) - cut) // (args.seq_len + 1)))
    val_streams = batchify(ids[cut:], val_batch, device) if len(ids) - cut > 2 * val_batch else None

    optimizer = _optimizer(args.optimizer, model.parameters(), args.lr)
    step = 0
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        step = int(checkpoint["step"])

    def save(path: str) -> None:
        tg.save({"kind": "charlm", "config": model.config, "vocabulary": vocabulary.to_dict(),
                 "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                path)

    print(f"corpus {args.corpus!r}: {len(ids):,} symbols, vocabulary {len(vocabulary)}; "
          f"model {model.config['cell']} {model.config['num_layers']}x{model.config['hidden_size']} "
          f"on {args.chosen}; {sum(p.numel() for p in model.parameters()):,} parameters")
    windows, state, val = None, None, None
    progress = tqdm(total=args.steps, initial=min(step, args.steps), unit="step",
                    dynamic_ncols=True, mininterval=0.5)
    started, first_step, losses = time.perf_counter(), step, []
    ckpt_path = os.path.join(out_dir, CHECKPOINT)
    try:
        while step < args.steps:
            if windows is None:
                windows, state = bptt_windows(train_streams, args.seq_len), None
            try:
                x, y = next(windows)
            except StopIteration:               # one pass over the text done: start again
                windows = None
                continue
            logits, state = model(x, state)
            state = detach_state(state)        # truncated BPTT: gradients stop at the window
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            if args.clip > 0:
                tg.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            step += 1
            losses.append(loss.item())
            progress.update(1)
            progress.set_postfix(loss=f"{losses[-1]:.3f}")
            if args.eval_every and val_streams is not None and (step % args.eval_every == 0 or step == args.steps):
                val = evaluate(model, val_streams, args.seq_len, args.eval_batches)
                train_avg = sum(losses[-50:]) / len(losses[-50:])
                progress.write(f"step {step}: train {train_avg:.3f} nats ({train_avg / math.log(2):.3f} bits)"
                               f" | validation {val:.3f} nats ({val / math.log(2):.3f} bits) per char")
            if args.sample_every and (step % args.sample_every == 0 or step == args.steps):
                text_out = model.generate(vocabulary, length=args.sample_length,
                                          temperature=args.temperature, seed=args.seed + step)
                progress.write(f"--- sample at step {step} ---\n{text_out}\n---")
            if args.checkpoint_every and step % args.checkpoint_every == 0:
                save(ckpt_path)
    except KeyboardInterrupt:
        progress.close()
        save(ckpt_path)
        print(f"interrupted at step {step}; checkpoint saved to {ckpt_path} "
              f"(continue with --resume {ckpt_path})")
        return {"exit_code": 130, "validation_nats": val, "steps": step}
    progress.close()
    save(ckpt_path)
    elapsed = time.perf_counter() - started
    print(f"trained {step - first_step} steps in {elapsed:.1f} s; checkpoint: {ckpt_path}")
    return {"exit_code": 0, "validation_nats": val, "steps": step, "seconds": elapsed}


def sample(args) -> int:
    device = prepare_device(args)
    if args.length <= 0:
        raise ValueError(f"--length must be positive, got {args.length}")
    model, vocabulary, _ = load_checkpoint(args.checkpoint, device)
    missing = sorted(set(args.prime) - set(vocabulary.symbols))
    if missing:
        raise ValueError(f"--prime has symbols the model never saw: {''.join(missing)!r}")
    text = model.generate(vocabulary, args.prime, args.length, args.temperature, args.top_k,
                          seed=args.seed)
    print(args.prime + text)
    return 0
