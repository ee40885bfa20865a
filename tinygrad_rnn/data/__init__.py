"""The corpora that ship with tinygrad_rnn, and readers for them (standard library only).

    from tinygrad_rnn import data
    text = data.load_text("tinyshakespeare")          # or a path to any UTF-8 text file
    pairs = data.load_pairs("eng_kor")                 # [(english, korean), ...]

Origins, licences and trimming: ``SOURCES.md`` beside this file (Shakespeare, Tolstoy and
the sunspot/CO2 series are public domain; the sentiment set and the digits are CC BY 4.0;
the Tatoeba pairs CC BY 2.0 FR; the UD English-EWT tags CC BY-SA 4.0).
"""
from __future__ import annotations

import gzip
import os
import random
from typing import Sequence

from ..files import open_regular_file, read_limited

_HERE = os.path.dirname(os.path.abspath(__file__))

CORPORA = {
    "tinyshakespeare": "tinyshakespeare.txt.gz",
    "sonnets": "shakespeare_sonnets.txt.gz",
    "war_and_peace": "war_and_peace.txt.gz",
}
PAIRS = {"eng_kor": "eng_kor_tatoeba.tsv.gz", "eng_fra": "eng_fra_tatoeba_short.tsv.gz"}
SERIES = {"sunspots_yearly": "sunspots_yearly.csv.gz", "sunspots_monthly": "sunspots_monthly.csv.gz",
          "co2_weekly": "co2_mauna_loa_weekly.csv.gz"}


class DataError(ValueError):
    """A corpus or file could not be loaded; the message says which and why."""


MAX_CORPUS_BYTES = 2**30


def max_corpus_bytes() -> int:
    """The most bytes a corpus file may hold (unpacked): 1 GiB, or
    ``TINYGRAD_RNN_MAX_CORPUS_BYTES``."""
    text = os.environ.get("TINYGRAD_RNN_MAX_CORPUS_BYTES")
    if not text:
        return MAX_CORPUS_BYTES
    try:
        return int(text)
    except ValueError:
        raise DataError(f"TINYGRAD_RNN_MAX_CORPUS_BYTES={text!r} is not a whole number of "
                        "bytes") from None


def bundled_path(filename: str) -> str:
    return os.path.join(_HERE, filename)


def _read(filename: str) -> str:
    with gzip.open(bundled_path(filename), "rt", encoding="utf-8") as handle:
        return handle.read()


def load_text(name_or_path: str) -> str:
    """A bundled corpus by name (``tinyshakespeare``, ``sonnets``, ``war_and_peace``, and the
    Korean side of ``eng_kor`` as ``korean``), or any UTF-8 text file by path: a regular
    file (not a FIFO or device) of at most :func:`max_corpus_bytes` bytes, unpacked."""
    if name_or_path in CORPORA:
        return _read(CORPORA[name_or_path])
    if name_or_path == "korean":
        return "\n".join(korean for _, korean in load_pairs("eng_kor")) + "\n"
    if not os.path.lexists(name_or_path):
        raise DataError(f"no corpus or file named {name_or_path!r}; bundled corpora: "
                        f"{', '.join(list(CORPORA) + ['korean'])}")
    if os.path.isdir(name_or_path):
        raise DataError(f"{name_or_path!r} is a directory, not a text file")
    limit = max_corpus_bytes()
    try:
        with open_regular_file(name_or_path, DataError, "corpus") as raw:
            if name_or_path.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw) as unpacked:   # bounded as it unpacks
                    content = read_limited(unpacked, limit, DataError, repr(name_or_path))
            else:
                content = read_limited(raw, limit, DataError, repr(name_or_path))
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{name_or_path!r} is not UTF-8 text (byte {error.start}: "
                        f"{error.reason})") from None
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read {name_or_path!r}: "
                        f"{getattr(error, 'strerror', None) or error}") from None
    if not text:
        raise DataError(f"{name_or_path!r} is empty")
    return text


def load_pairs(name: str = "eng_kor") -> list[tuple[str, str]]:
    """Sentence pairs (source, target) from the bundled Tatoeba files (header skipped)."""
    if name not in PAIRS:
        raise DataError(f"no pair corpus named {name!r}; choose one of {', '.join(PAIRS)}")
    rows = _read(PAIRS[name]).splitlines()[1:]
    return [tuple(row.split("\t")[:2]) for row in rows if row]


def load_sentiment() -> list[tuple[str, int, str]]:
    """(sentence, label 0/1, source) for the 3,000 labelled review sentences."""
    rows = _read("sentiment_labelled_sentences.tsv.gz").splitlines()[1:]
    out = []
    for row in rows:
        sentence, label, source = row.split("\t")   # no CSV quoting: sentences may start with "
        out.append((sentence, int(label), source))
    return out


def load_pos(split: str = "dev") -> list[list[tuple[str, str, str]]]:
    """Sentences of (form, UPOS, XPOS) from UD English-EWT (``dev`` or ``test``)."""
    if split not in ("dev", "test"):
        raise DataError(f"UD EWT split must be 'dev' or 'test', got {split!r}")
    sentences, current = [], []
    for line in _read(f"ud_ewt_pos_{split}.tsv.gz").splitlines():
        if not line:
            if current:
                sentences.append(current)
            current = []
        elif "\t" in line:                       # a line with no tab is a comment
            form, upos, xpos = line.split("\t")
            current.append((form, upos, xpos))
    if current:
        sentences.append(current)
    return sentences


def load_digits() -> tuple[list[list[int]], list[int]]:
    """The 1,797 8x8 digit images (64 pixel values 0-16, row-major) and their labels."""
    images, labels = [], []
    for row in _read("digits_8x8.csv.gz").splitlines():
        values = [int(float(v)) for v in row.split(",")]
        images.append(values[:64])
        labels.append(values[64])
    return images, labels


def load_series(name: str = "sunspots_yearly") -> list[tuple[str, float | None]]:
    """(time, value) rows of a bundled series; missing values are None."""
    if name not in SERIES:
        raise DataError(f"no series named {name!r}; choose one of {', '.join(SERIES)}")
    rows = _read(SERIES[name]).splitlines()[1:]
    out = []
    for row in rows:
        *when, value = row.split(",")
        out.append(("-".join(when), float(value) if value.strip() else None))
    return out


def split(items: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> list[list]:
    """Deterministic shuffled split of ``items`` into parts of the given fractions."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    parts, start = [], 0
    for i, fraction in enumerate(fractions):
        end = len(order) if i == len(fractions) - 1 else start + int(round(fraction * len(order)))
        parts.append([items[j] for j in order[start:end]])
        start = end
    return parts
