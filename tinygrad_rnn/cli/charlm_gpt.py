"""``train charlm --model gpt``: the flags, checks and checkpoint config of the Transformer
character model (``models.GPT``), beside the recurrent CharLM's.

The GPT reads windows of ``--seq-len`` symbols and carries no state from one window to the
next. Its own training defaults: 16 windows of 64 symbols (never longer than ``--context``),
4,000 steps, Adam at lr 3e-3 after a 100-step linear warm-up, decaying along a cosine to
3e-4 at the last step, and each pass over the text cut into windows at a new offset
(``charlm.pass_start``). It samples from windows as long as those it was trained on
(``sampling_options``): with the default context of 128 and windows of 64, positions 64-127
are never trained, and a sample drawn from all 128 turned to noise after ~60 symbols.
Training, evaluation, checkpoints, resume and ``sample`` are otherwise the recurrent model's.

Measured on tiny-shakespeare, validation nats per character (the 5-gram baseline: 1.75):

    GPT 4x4x128, the defaults (2026-12-02, ``tinygrad-rnn train charlm --model gpt``, 1 BLAS
    thread, the other core partly busy with tests): 4,000 steps in 832 s (13:52 with start-up)
        step 250 2.387 (0:48), 500 2.163 (1:39), 1000 1.969 (3:32), 1500 1.942 (5:21),
        2000 1.809 (7:08), 2500 1.827 (8:49), 2750 1.708 (9:39), 3000 1.699 (10:29),
        3500 1.701 (12:06), 3750 1.630, 4000 1.638 (13:52); training loss 1.46
    The same model before the schedule and the shifted passes (constant lr 3e-3, the same
    windows every pass; 2026-12-01): 1000 2.339, 2000 2.062, 2750 1.933 (best), 3500 1.961 in
    15 minutes: it stayed on the bigram plateau (~2.5) for ~700 updates (2.56 at step 500,
    against 2.16 now). The warm-up, the decay and the offsets were not measured apart; the
    same recipe in a script with Adam's beta2 at 0.99 and random offsets gave a like curve
    (1.934 at 1000, 1.695 at 2750, 1.676 at 3500).
    LSTM 1x256, the recurrent defaults for the same 832 s (``timeout -s INT 832 tinygrad-rnn
    train charlm --steps 100000``, right after, alone): 7,514 steps
        step 500 1.775 (0:53), 1000 1.646 (1:47), 2000 1.569 (3:40), 3000 1.544 (5:31),
        4000 1.539 (7:25), 5000 1.535 (9:16), 5500 1.529 (best), 7000 1.540 (12:55),
        7500 1.567 (13:49); training loss 1.21, past its best from ~5,500 steps on

The LSTM still wins at equal wall time: it passes the 5-gram after ~1 minute where the GPT
needs ~9.5, and ends 0.07-0.1 nats lower. Per step it reads twice the symbols (32 x 64) in
about half the time (0.11 s against 0.21 s), and a recurrent cell's bias toward recent symbols
suits characters at this size; the Transformer has to learn it from its position embeddings.
"""
from __future__ import annotations

import argparse
import math

MODELS = ("recurrent", "gpt")
# flag -> (key in GPT.config, default): the model's shape, fixed once trained
GPT_ARCHITECTURE = {"layers": ("layers", 4), "heads": ("heads", 4), "width": ("width", 128),
                    "context": ("context", 128), "dropout": ("dropout", 0.0),
                    "positions": ("positions", "learned"), "tie_weights": ("tie_weights", True)}
GPT_ONLY = ("heads", "width", "context", "positions", "tie_weights")
RECURRENT_ONLY = ("cell", "hidden", "embedding")


def register_gpt_flags(p) -> None:
    p.add_argument("--model", dest="architecture", default=None, choices=MODELS,
                   help="recurrent (--cell, --hidden, --embedding) or gpt (--heads, --width, "
                   "--context, --positions); default: recurrent")
    p.add_argument("--heads", type=int, default=None, help="gpt: attention heads (default: 4)")
    p.add_argument("--width", type=int, default=None, help="gpt: model width (default: 128)")
    p.add_argument("--context", type=int, default=None,
                   help="gpt: the longest window it attends over (default: 128)")
    p.add_argument("--positions", default=None, choices=("learned", "sinusoidal"),
                   help="gpt: position embeddings (default: learned)")
    p.add_argument("--tie-weights", default=None, action=argparse.BooleanOptionalAction,
                   help="gpt: the output layer is the token embedding (default: tied)")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def wants_gpt(args, checkpoint: dict | None = None) -> bool:
    """The flag when given, else the checkpoint's architecture."""
    if args.architecture is not None:
        return args.architecture == "gpt"
    config = (checkpoint or {}).get("config") or {}
    return config.get("architecture") == "gpt"


def check_gpt_arguments(args) -> None:
    """Flags of the other architecture are refused; the GPT's own are checked."""
    given = lambda names: [n for n in names if getattr(args, n) is not None]  # noqa: E731
    if args.architecture == "gpt":
        wrong = given(RECURRENT_ONLY)
        if wrong:
            raise ValueError(f"{_flag(wrong[0])} applies to the recurrent model, not --model "
                             "gpt (its shape is --layers, --heads, --width, --context)")
    elif given(GPT_ONLY) and not args.resume:
        raise ValueError(f"{_flag(given(GPT_ONLY)[0])} applies to --model gpt only")
    for name in ("heads", "width", "context"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"{_flag(name)} must be positive, got {value}")
    width = args.width if args.width is not None else GPT_ARCHITECTURE["width"][1]
    heads = args.heads if args.heads is not None else GPT_ARCHITECTURE["heads"][1]
    if args.architecture == "gpt" and width % heads:
        raise ValueError(f"--width {width} is not divisible by --heads {heads}")
    context = args.context if args.context is not None else GPT_ARCHITECTURE["context"][1]
    if args.architecture == "gpt" and args.seq_len is not None and args.seq_len > context:
        raise ValueError(f"--seq-len {args.seq_len} is longer than --context {context}: the "
                         "GPT attends over at most --context symbols")


def gpt_architecture_of(args) -> dict:
    return {key: (getattr(args, flag) if getattr(args, flag) is not None else default)
            for flag, (key, default) in GPT_ARCHITECTURE.items()}


def gpt_contradictions(args, config: dict) -> list[str]:
    found = []
    if args.architecture is not None and args.architecture != "gpt":
        found.append(f"--model {args.architecture} (checkpoint: gpt)")
    for flag, (key, _) in GPT_ARCHITECTURE.items():
        given = getattr(args, flag)
        if given is not None and given != config.get(key):
            found.append(f"{_flag(flag)} {given} (checkpoint: {config.get(key)})")
    for flag in RECURRENT_ONLY:
        if getattr(args, flag) is not None:
            found.append(f"{_flag(flag)} {getattr(args, flag)} (the checkpoint is a gpt)")
    return found


def check_window(seq_len: int, config: dict) -> None:
    """A GPT's window fits its context (on resume the flag can change the window)."""
    if config.get("architecture") == "gpt" and seq_len > config["context"]:
        raise ValueError(f"--seq-len {seq_len} is longer than the checkpoint's context "
                         f"{config['context']}")


def checked_gpt_config(config: dict, state: dict, vocab_size: int) -> dict:
    """``config`` (without its "architecture" tag) if it describes the arrays of ``state``;
    ValueError otherwise, before anything is allocated."""
    sizes = {}
    for key in ("vocab_size", "context", "width", "layers", "heads"):
        value = config.get(key)
        if type(value) is not int or value < 1:
            raise ValueError(f"config {key} = {value!r} is not a positive int")
        sizes[key] = value
    V, C, W, L, H = (sizes[k] for k in ("vocab_size", "context", "width", "layers", "heads"))
    if W % H:
        raise ValueError(f"config width {W} is not divisible by heads {H}")
    if config.get("positions") not in ("learned", "sinusoidal"):
        raise ValueError(f"config positions = {config.get('positions')!r} is not learned or "
                         "sinusoidal")
    if config.get("activation", "gelu") not in ("relu", "gelu"):
        raise ValueError(f"config activation = {config.get('activation')!r} is not relu or gelu")
    dropout = config.get("dropout", 0.0)
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"config dropout = {dropout!r} is not in [0, 1)")
    if V != vocab_size:
        raise ValueError(f"config vocab_size {V} but the vocabulary has {vocab_size} symbols")
    found = tuple(getattr(state.get("token_embedding.weight"), "shape", ()) or ())
    if found != (V, W):
        raise ValueError(f"config says token_embedding.weight is {(V, W)} but the file holds "
                         f"{found or 'none'}")
    present = sum(math.prod(getattr(v, "shape", ())) for v in state.values())
    at_least = V * W + L * 12 * W * W          # each block: 4 W^2 attention, 8 W^2 feed-forward
    if at_least > present:
        raise ValueError(f"config ({L} layers of width {W}) needs at least {at_least:,} "
                         f"parameters but the file holds {present:,}")
    return {k: v for k, v in config.items() if k != "architecture"}


def describe(config: dict) -> str:
    """The model's shape in a few words, for the first line a run prints."""
    if config.get("architecture") == "gpt":
        return (f"gpt {config['layers']} layers x {config['heads']} heads, width "
                f"{config['width']}, context {config['context']}")
    return f"{config['cell']} {config['num_layers']}x{config['hidden_size']}"


def sampling_options(model, settings: dict | None) -> dict:
    """generate()'s extra arguments: a GPT samples from windows as long as those it was trained
    on (``--seq-len``; positions past it were never trained), a recurrent model needs none."""
    if model.config.get("architecture") != "gpt" or not (settings or {}).get("seq_len"):
        return {}
    return {"window": min(settings["seq_len"], model.config["context"])}


def check_new_png(path: str) -> None:
    """``sample --attention PATH``: a new .png in an existing folder (nothing is replaced)."""
    from .runtime import check_new_file
    check_new_file("--attention", path, (".png",))
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        from tinygrad_rnn.demos._applied import PLOT_HINT
        raise ValueError(f"--attention draws with matplotlib, which is not installed: {PLOT_HINT}")


def attention_over(model, vocabulary, text: str, window: int):
    """(symbols, [per-layer (heads, T, T) weights]) of the GPT over the last ``window``
    symbols of ``text``: what draw_gpt_attention shows."""
    import tinygrad_rnn as tg
    ids = vocabulary.encode(text)[-window:]
    model.eval()
    with tg.no_grad():
        _, maps = model(tg.Tensor([ids], dtype="int64", device=model.token_embedding.weight.device),
                        need_weights=True)
    return [vocabulary.decode([i]) for i in ids], [m.numpy()[0] for m in maps]


def draw_gpt_attention(path: str, model, vocabulary, text: str, window: int) -> None:
    from tinygrad_rnn.demos._attention_grid import plot_attention_grid
    symbols, maps = attention_over(model, vocabulary, text, window)
    shown = [repr(s)[1:-1] for s in symbols]        # a newline as \n, a space stays visible
    plot_attention_grid(path, maps, shown, shown, f"GPT self-attention over "
                        f"{''.join(symbols)!r}", print)
