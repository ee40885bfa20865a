"""Sequential and ModuleList: modules held in order, named "0", "1", ..."""
from __future__ import annotations

from typing import Iterable

from .module import Module


class _Ordered(Module):
    """Indexing, length and iteration over the sub-modules in the order they were added."""

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_Ordered):
    """Applies its modules one after the other: y = m_n(...m_2(m_1(x)))."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_Ordered):
    """A list of modules whose parameters belong to the owner."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self
