"""The ``train charlm`` checkpoint: what it holds, and loading one that may be hostile.

Besides the model and its vocabulary, a checkpoint (format version 2) holds all a resumed run
needs to continue bit for bit: the optimizer's state, the run's settings, the position in the
text (pass and window), the hidden state carried into the next window, the random
generators' state and the recent losses (for the printed averages).
"""
from __future__ import annotations

import math
import os

CHECKPOINT = "charlm.ckpt"
FORMAT_VERSION = 2     # 2: settings, data position, hidden state and generators saved too


def load_checkpoint(path: str, device: str):
    """The model, vocabulary and raw checkpoint saved by ``train charlm``. The config is
    checked against the arrays in the file before the model is built, so a file that claims
    a huge model is refused instead of allocated."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import GPT, CharLM, Vocabulary
    from .charlm_gpt import checked_gpt_config
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
        gpt = isinstance(checkpoint["config"], dict) and \
            checkpoint["config"].get("architecture") == "gpt"
        config = (checked_gpt_config if gpt else checked_config)(
            checkpoint["config"], checkpoint["model"], len(vocabulary))
    except (KeyError, TypeError, ValueError) as error:
        raise tg.CheckpointError(f"{path}: not a usable charlm checkpoint: {error}") from None
    model = (GPT if gpt else CharLM)(**config).to(device)
    model.load_state_dict(checkpoint["model"])
    return model, vocabulary, checkpoint


def checked_config(config: dict, state: dict, vocab_size: int) -> dict:
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


def save_checkpoint(path: str, run: dict, step: int, state, losses: list) -> None:
    import tinygrad_rnn as tg
    model, optimizer = run["model"], run["optimizer"]
    tg.save({"kind": "charlm", "version": FORMAT_VERSION, "config": model.config,
             "vocabulary": run["vocabulary"].to_dict(), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "step": step,
             "scheduler": run["scheduler"].state_dict() if run["scheduler"] else None,
             "settings": run["settings"], "data": dict(run["position"]),
             "hidden": state, "rng": tg.get_rng_state(), "recent_losses": losses[-50:]}, path)
