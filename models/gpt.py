"""A decoder-only Transformer language model (Radford et al. 2018, "GPT"), as a character model:

    h_0[t] = E[x_t] + P[t]                          (token embedding + position, then dropout)
    h_l    = h'_l + drop(FF(LN_2(h'_l))),  h'_l = h_{l-1} + drop(CausalSA(LN_1(h_{l-1})))
    z_t    = LN_f(h_L[t]) W^T                       (W = E when the weights are tied)
    p(x_{t+1} | x_{<=t}) = softmax(z_t)

CausalSA lets position t attend positions 1..t only, so one forward pass over a window of
T symbols predicts each of its T next symbols. P is learned (a table of ``context`` rows) or
the fixed sinusoids of Vaswani et al. (``positions="sinusoidal"``). The blocks are pre-norm
TransformerEncoderLayers with a causal mask (GPT-2's ordering of the layer norms).
"""
from __future__ import annotations

import math
import random

from tinygrad_rnn import Tensor, no_grad
from tinygrad_rnn.nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, init
from tinygrad_rnn.nn.utils import name_parameters

from .sampling import choose
from .transformer import TransformerEncoderLayer, sinusoidal_positional_encoding
from .vocabulary import Vocabulary

POSITIONS = ("learned", "sinusoidal")


class GPT(Module):
    """``GPT(vocab_size, context=128, width=128, layers=4, heads=4, dropout=0.0,
    positions="learned", tie_weights=True, activation="gelu")``; ``forward(ids, state=None)``
    takes (B, T) symbol ids, T <= context, and returns (logits (B, T, vocab), None) (the
    state is there so it trains and samples where a recurrent CharLM does; a Transformer
    carries nothing from window to window). Weights start N(0, 0.02), the projections into
    the residual stream N(0, 0.02 / sqrt(2 layers)) (GPT-2), biases 0."""

    def __init__(self, vocab_size: int, context: int = 128, width: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0, positions: str = "learned",
                 tie_weights: bool = True, activation: str = "gelu", device=None, dtype=None):
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"GPT: positions must be 'learned' or 'sinusoidal', got {positions!r}")
        for name, value in (("vocab_size", vocab_size), ("context", context), ("width", width),
                            ("layers", layers), ("heads", heads)):
            if value <= 0:
                raise ValueError(f"GPT: {name} must be positive, got {value}")
        if width % heads:
            raise ValueError(f"GPT: width {width} is not divisible by heads {heads}")
        self.config = dict(architecture="gpt", vocab_size=vocab_size, context=context,
                           width=width, layers=layers, heads=heads, dropout=dropout,
                           positions=positions, tie_weights=tie_weights, activation=activation)
        kw = dict(device=device, dtype=dtype)
        self.token_embedding = Embedding(vocab_size, width, **kw)
        if positions == "learned":
            self.position_embedding = Embedding(context, width, **kw)
        else:
            self.register_buffer("position_table", sinusoidal_positional_encoding(
                context, width, dtype=dtype or "float32", device=device))
        self.dropout = Dropout(dropout)
        self.blocks = ModuleList(
            TransformerEncoderLayer(width, heads, 4 * width, dropout, activation,
                                    batch_first=True, norm_first=True, **kw)
            for _ in range(layers))
        self.norm = LayerNorm(width, **kw)
        self.head = None if tie_weights else Linear(width, vocab_size, bias=False, **kw)
        self._initialise(layers)
        name_parameters(self)

    def _initialise(self, layers: int) -> None:
        for name, p in self.named_parameters():
            if p.ndim > 1:
                residual = name.endswith("linear2.weight") or name.endswith("out_proj.weight")
                init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if residual else 0.02)
            elif not name.startswith("norm") and ".norm" not in name:
                init.zeros_(p)

    def embed(self, ids: Tensor) -> Tensor:
        T, context = ids.shape[1], self.config["context"]
        if T > context:
            raise ValueError(f"GPT: a window of {T} symbols is longer than the context "
                             f"({context})")
        if self.config["positions"] == "learned":
            where = self.position_embedding.weight[:T]
        else:
            where = self.position_table[:T]
        return self.dropout(self.token_embedding(ids) + where)

    def forward(self, ids: Tensor, state=None, need_weights: bool = False):
        """(logits, None); with ``need_weights`` (logits, [per-head weights (B, heads, T, T)
        of each layer])."""
        h, maps = self.embed(ids), []
        for block in self.blocks:
            h, weights = block(h, is_causal=True, need_weights=True,
                               average_attn_weights=False)
            maps.append(weights)
        h = self.norm(h)
        weight = self.token_embedding.weight if self.head is None else self.head.weight
        logits = h @ weight.mT
        return (logits, maps) if need_weights else (logits, None)

    def extra_repr(self) -> str:
        c = self.config
        return f"layers={c['layers']}, heads={c['heads']}, width={c['width']}, context={c['context']}"

    @no_grad()
    def generate(self, vocabulary: Vocabulary, prime: str = "\n", length: int = 200,
                 temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
                 window: int | None = None) -> str:
        """``length`` symbols continuing ``prime``, drawn one at a time, each from the last
        ``window`` symbols (default: the whole ``context``; the prime's start falls out of view
        once it is longer). A model trained on shorter windows than its context should sample
        with that length: its position embeddings past it were never trained."""
        if not prime:
            raise ValueError("generate: prime must hold at least one symbol")
        window = self.config["context"] if window is None else window
        if not 0 < window <= self.config["context"]:
            raise ValueError(f"generate: window must be in [1, context={self.config['context']}]"
                             f", got {window}")
        was_training = self.training
        self.eval()
        rng = random.Random(seed)
        device = self.token_embedding.weight.device
        ids = vocabulary.encode(prime)
        out = []
        for _ in range(length):
            logits, _ = self(Tensor([ids[-window:]], dtype="int64", device=device))
            next_id = choose(logits[0, -1].tolist(), temperature, top_k, rng)
            ids.append(next_id)
            out.append(next_id)
        self.train(was_training)
        return vocabulary.decode(out)
