"""Cutting one long text into the (B, T) windows of truncated BPTT.

The id stream is split into B equal rows laid side by side; window k holds columns
[kT, (k+1)T) of every row, and its targets are the same columns shifted by one. Row b of
window k+1 continues row b of window k, so a hidden state carried across windows (and
``detach()``-ed between them) sees one unbroken text per row.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from tinygrad_rnn import Tensor


def batchify(ids: Sequence[int], batch_size: int, device=None) -> Tensor:
    """The stream as a (batch_size, N) int64 tensor, N = len(ids) // batch_size (the tail
    that does not fill a row is dropped)."""
    if batch_size <= 0:
        raise ValueError(f"batchify: batch_size must be positive, got {batch_size}")
    columns = len(ids) // batch_size
    if columns < 2:
        raise ValueError(f"batchify: {len(ids)} symbols cannot fill {batch_size} rows of at "
                         "least 2 (input and target)")
    rows = [list(ids[b * columns:(b + 1) * columns]) for b in range(batch_size)]
    return Tensor(rows, dtype="int64", device=device)


def bptt_windows(streams: Tensor, seq_len: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive (inputs, targets) windows of shape (B, T) from a batchified stream."""
    if seq_len <= 0:
        raise ValueError(f"bptt_windows: seq_len must be positive, got {seq_len}")
    last = streams.shape[1] - 1
    if seq_len > last:
        raise ValueError(f"bptt_windows: seq_len {seq_len} is longer than each row of the "
                         f"batched text ({last} steps); use a shorter --seq-len or a smaller batch")
    for offset in range(start, last - seq_len + 1, seq_len):
        yield streams[:, offset:offset + seq_len], streams[:, offset + 1:offset + seq_len + 1]


def window_count(streams: Tensor, seq_len: int) -> int:
    return max((streams.shape[1] - 1) // seq_len, 0)
