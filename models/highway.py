"""Highway layers (Srivastava, Greff & Schmidhuber 2015, "Highway Networks" / "Training Very
Deep Networks")."""
from __future__ import annotations

from tinygrad_rnn.nn import Linear, Module, ModuleList, init


class Highway(Module):
    """``num_layers`` highway layers of width ``size``, each

        H(x) = phi(W_H x + b_H)           the transform (phi = relu or tanh)
        T(x) = sigma(W_T x + b_T)         the transform gate
        y    = H(x) * T(x) + x * (1 - T(x))

    so where T(x) is near 0 the layer carries x through unchanged. b_T starts at ``gate_bias``
    (the paper suggests a negative value such as -1 to -3, biasing every layer towards carrying
    its input at first). Sub-modules ``transform.{k}`` and ``gate.{k}`` are Linear layers.
    """

    def __init__(self, size: int, num_layers: int = 1, activation: str = "relu",
                 gate_bias: float = -1.0, device=None, dtype=None):
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"Highway: activation must be 'relu' or 'tanh', got {activation!r}")
        self.size, self.num_layers, self.activation = size, num_layers, activation
        self.transform = ModuleList(Linear(size, size, device=device, dtype=dtype)
                                    for _ in range(num_layers))
        self.gate = ModuleList(Linear(size, size, device=device, dtype=dtype)
                               for _ in range(num_layers))
        for gate in self.gate:
            init.constant_(gate.bias, gate_bias)

    def forward(self, x):
        for transform, gate in zip(self.transform, self.gate):
            h = transform(x)
            h = h.relu() if self.activation == "relu" else h.tanh()
            t = gate(x).sigmoid()
            x = h * t + x * (1 - t)
        return x

    def extra_repr(self) -> str:
        return f"{self.size}, num_layers={self.num_layers}, activation={self.activation!r}"
