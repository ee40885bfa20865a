"""CellLayer: any single-state cell run over a whole sequence, with RNN's interface.

    h_t^(l) = cell_l(h_t^(l-1), h_{t-1}^(l))      h_t^(0) = x_t

The MUT1-3 cells have no layer of their own in PyTorch; this gives them one, so a
character model can swap ``--cell gru`` for ``--cell mut2`` unchanged.
"""
from __future__ import annotations

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.nn import Module, ModuleList


class CellLayer(Module):
    """Run ``cell_class(input, hidden)`` over time, ``num_layers`` deep; returns
    ``(output, h_n)`` shaped as ``RNN``'s: (T, B, H) (or (B, T, H) with ``batch_first``)
    and (num_layers, B, H)."""

    def __init__(self, cell_class, input_size: int, hidden_size: int, num_layers: int = 1,
                 batch_first: bool = False, dropout: float = 0.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"CellLayer: num_layers must be at least 1, got {num_layers}")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.batch_first, self.dropout = batch_first, dropout
        self.cells = ModuleList(cell_class(input_size if layer == 0 else hidden_size, hidden_size)
                                for layer in range(num_layers))

    def forward(self, x, h0=None):
        if self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if h0 is None:
            h0 = tg.zeros(self.num_layers, batch, self.hidden_size, dtype=x.dtype, device=x.device)
        finals = []
        for layer, cell in enumerate(self.cells):
            h, outputs = h0[layer], []
            for t in range(steps):
                with tg.scope(f"t={t}" if self.num_layers == 1 else f"t={t}/l{layer}"):
                    h = cell(x[t], h)
                outputs.append(h)
            finals.append(h)
            x = tg.stack(outputs)
            if layer < self.num_layers - 1 and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        output = x.transpose(0, 1) if self.batch_first else x
        return output, tg.stack(finals)

    def extra_repr(self) -> str:
        return f"{type(self.cells[0]).__name__}, layers={self.num_layers}"
