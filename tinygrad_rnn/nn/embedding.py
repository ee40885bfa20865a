"""Embedding: a lookup table of learned vectors, row i for token i."""
from __future__ import annotations

from .. import creation
from ..backends import backend_for
from ..functional import embedding
from ..ops import constant
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """y = W[indices], W of shape (num_embeddings, embedding_dim), initialised N(0, 1).
    With ``padding_idx``, that row starts at zero and never receives a gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        weight = init.normal_(creation.zeros(num_embeddings, embedding_dim, device=device,
                                             dtype=dtype))
        if padding_idx is not None:
            weight.data[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, indices):
        out = embedding(indices, self.weight)
        if self.padding_idx is None:
            return out
        # the padding row's uses are multiplied by 0, so its gradient stays 0
        keep = out.data[..., :1] * 0 + (_array(indices, out) != self.padding_idx)[..., None]
        return out * constant(keep)

    def extra_repr(self) -> str:
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"


def _array(indices, like):
    data = getattr(indices, "data", indices)
    if not hasattr(data, "dtype"):
        data = backend_for(like.data).asarray(data, device=like.device)
    return data
