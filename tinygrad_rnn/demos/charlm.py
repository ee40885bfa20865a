"""The character-level language model on tiny-shakespeare (the lecture's main example),
exactly as ``tinygrad-rnn train charlm`` runs it with its defaults.

Baselines from the lecture notes, validation nats per character: a 3-gram model 2.05, a
5-gram model 1.75. The default run (1,000 steps of a 256-wide LSTM, batch 32 x 64 characters,
Adam 2e-3) passed the 3-gram by step 250 (1.954) and the 5-gram by step 750 (1.710), ending
at 1.646 (measured 2026-11-22 on 2 shared cores, 164 s).
"""
from __future__ import annotations

import math

THREE_GRAM, FIVE_GRAM = 2.05, 1.75


def run(steps: int = 1000, seed: int = 0, device: str = "cpu", out: str = "out",
        log=print) -> dict:
    import os

    from ..cli import build_parser
    from ..cli.charlm import fit_charlm
    # a folder of its own, replaced by the next run of the demo, so the demo never touches
    # the checkpoint of a 'train charlm' run in the same --out
    folder = os.path.join(out or "out", "charlm_demo")
    args = build_parser().parse_args(["train", "charlm", "--steps", str(steps), "--seed", str(seed),
                                      "--device", device, "--out", folder, "--overwrite"])
    result = fit_charlm(args)
    val = result["validation_nats"]
    if result["exit_code"] != 0 or val is None:        # stopped by a signal, or diverged
        return {"exit_code": result["exit_code"], "success": False}
    log(f"validation {val:.3f} nats/char ({val / math.log(2):.3f} bits); baselines: 3-gram "
        f"{THREE_GRAM}, 5-gram {FIVE_GRAM}")
    return {"validation_nats": val, "beats_3gram": val < THREE_GRAM, "beats_5gram": val < FIVE_GRAM,
            "success": val < THREE_GRAM}
