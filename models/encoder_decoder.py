"""The encoder-decoder Transformer of "Attention is all you need" (Vaswani et al. 2017): a stack
of encoder layers reads the source, a stack of decoder layers writes the target attending to
it. Names, arguments and parameter names as torch.nn.Transformer's."""
from __future__ import annotations

import copy

from tinygrad_rnn.backends import backend_for_device
from tinygrad_rnn.device import target_device
from tinygrad_rnn.nn import LayerNorm, Module, ModuleList, init
from tinygrad_rnn.tensor import Tensor

from .transformer import TransformerEncoderLayer
from .transformer_decoder import TransformerDecoderLayer


def _clones(layer: Module, n: int) -> ModuleList:
    """n independent copies of ``layer`` (equal at the start, as torch.nn's stacks)."""
    return ModuleList(copy.deepcopy(layer) for _ in range(n))


class TransformerEncoder(Module):
    """z_0 = src,  z_l = EncoderLayer_l(z_{l-1}) for l = 1..N,  output norm(z_N) (or z_N with
    no ``norm``). ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``; with
    ``need_weights=True`` returns (output, [weights of each layer])."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None,
                need_weights: bool = False, average_attn_weights: bool = True):
        x, maps = src, []
        for layer in self.layers:
            x, weights = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                               is_causal=bool(is_causal), need_weights=True,
                               average_attn_weights=average_attn_weights)
            maps.append(weights)
        if self.norm is not None:
            x = self.norm(x)
        return (x, maps) if need_weights else x


class TransformerDecoder(Module):
    """y_0 = tgt,  y_l = DecoderLayer_l(y_{l-1}, memory) for l = 1..N,  output norm(y_N).
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``; with
    ``need_weights=True`` returns (output, [(self weights, cross weights) of each layer])."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal: bool = False,
                need_weights: bool = False, average_attn_weights: bool = True):
        x, maps = tgt, []
        for layer in self.layers:
            x, weights = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                               tgt_key_padding_mask=tgt_key_padding_mask,
                               memory_key_padding_mask=memory_key_padding_mask,
                               tgt_is_causal=bool(tgt_is_causal),
                               memory_is_causal=memory_is_causal, need_weights=True,
                               average_attn_weights=average_attn_weights)
            maps.append(weights)
        if self.norm is not None:
            x = self.norm(x)
        return (x, maps) if need_weights else x


class Transformer(Module):
    """    memory = Encoder(src),   output = Decoder(tgt, memory)

    both stacks ending in a LayerNorm (as torch.nn.Transformer, for post- and pre-norm
    layers alike); every parameter of 2+ dimensions Xavier-uniform. Inputs are embedded
    already: src (S, B, d_model) and tgt (T, B, d_model), or (B, S, d) / (B, T, d) with
    ``batch_first``. ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)`` -> output like tgt.
    For teacher forcing give ``tgt_mask=Transformer.generate_square_subsequent_mask(T)`` (or
    ``tgt_is_causal=True``)."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        layer = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                     dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                     batch_first=batch_first, norm_first=norm_first, **kw)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(**layer), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, **kw))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(**layer), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, **kw))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal: bool = False):
        self._check(src, tgt)
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    def _check(self, src, tgt) -> None:
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise ValueError(f"Transformer: src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                             f"have different batch sizes (axis {batch}, batch_first="
                             f"{self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                             f"must both end with d_model={self.d_model}")

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype="float32"):
        """(sz, sz) floats: 0 where query i may attend key j (j <= i), -inf above the
        diagonal, added to the attention scores."""
        device = target_device(None, device)
        xp = backend_for_device(device).xp
        return Tensor(xp.triu(xp.full((sz, sz), float("-inf")), k=1), dtype=dtype, device=device)
