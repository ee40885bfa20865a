"""Vocabulary: symbols (characters or tokens) to integer ids and back."""
from __future__ import annotations

from typing import Iterable, Sequence


class Vocabulary:
    """A fixed list of symbols; id i stands for ``symbols[i]``.

    ``Vocabulary.from_text(text)`` takes every distinct character, sorted, as the char-level
    models of the lecture do (65 symbols for tiny-shakespeare).
    """

    def __init__(self, symbols: Iterable[str], unknown: str | None = None):
        self.symbols = list(symbols)
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("Vocabulary: symbols must be distinct")
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.unknown = unknown
        if unknown is not None and unknown not in self.index:
            raise ValueError(f"Vocabulary: the unknown symbol {unknown!r} is not in the list")

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls(sorted(set(text)))

    @classmethod
    def from_tokens(cls, sentences: Iterable[Sequence[str]], specials: Sequence[str] = ("<pad>", "<unk>", "<s>", "</s>"),
                    min_count: int = 1) -> "Vocabulary":
        """A token vocabulary: the specials first, then tokens seen at least ``min_count`` times."""
        counts: dict[str, int] = {}
        for sentence in sentences:
            for token in sentence:
                counts[token] = counts.get(token, 0) + 1
        kept = sorted(t for t, c in counts.items() if c >= min_count and t not in specials)
        unknown = "<unk>" if "<unk>" in specials else None
        return cls(list(specials) + kept, unknown=unknown)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.index

    def encode(self, symbols: Iterable[str]) -> list[int]:
        """Ids of ``symbols`` (a string is a sequence of characters)."""
        ids = []
        for s in symbols:
            i = self.index.get(s)
            if i is None:
                if self.unknown is None:
                    raise KeyError(f"symbol {s!r} is not in the vocabulary of {len(self)} symbols")
                i = self.index[self.unknown]
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int], separator: str = "") -> str:
        return separator.join(self.symbols[int(i)] for i in ids)

    def to_dict(self) -> dict:
        return {"symbols": self.symbols, "unknown": self.unknown}

    @classmethod
    def from_dict(cls, state: dict) -> "Vocabulary":
        return cls(state["symbols"], unknown=state.get("unknown"))
