"""Distinct-patron sketches that survive the patron link being removed.

Each warehouse cell (source, month, branch, patron category, age band) keeps a
k-minimum-values (KMV) sketch: the k smallest 64-bit keyed hashes of the
patrons seen in that cell. Sketches merge by union (keep the k smallest), so
batch after batch, and run after run, they stay exactly what one pass over
all the rows would have produced — no patron is counted twice, whatever the
batching. Below k distinct patrons the count is exact, which is the range
small-cell suppression cares about; above it the KMV estimate is used.

The hash is keyed (``keys.patron_hash_key``) and salted with the cell, so the
same patron hashes differently in two cells: a sketch cannot be linked to
another cell's, nor brute-forced back to a borrowernumber without the key.
A coarser question ("patrons per month at a branch") gets the largest of its
cells' counts: a lower bound, which errs on the side of suppressing.
"""
from __future__ import annotations

import hashlib
import heapq
import struct
from typing import Iterable

K = 32


def cell_hashes(key: bytes, cell: tuple[str, ...], patrons) -> list[int]:
    """The k smallest keyed hashes of ``patrons`` in ``cell`` (one cell's contribution)."""
    keyed = hashlib.blake2b(("\x1f".join(cell) + "\x1e").encode(), key=key, digest_size=8)
    values = set()
    for patron in patrons:
        h = keyed.copy()  # the key and the cell are absorbed once per cell, not once per patron
        h.update(str(patron).encode())
        values.add(int.from_bytes(h.digest(), "big"))
    return sorted(values) if len(values) <= K else heapq.nsmallest(K, values)


def merge(*sketches: Iterable[int], k: int = K) -> list[int]:
    return sorted(set().union(*map(set, sketches)))[:k]


def pack(values: list[int]) -> bytes:
    return struct.pack(f">{len(values)}Q", *values)


def unpack(blob: bytes) -> list[int]:
    return list(struct.unpack(f">{len(blob) // 8}Q", blob))


def estimate(values: list[int], k: int = K) -> float:
    """Distinct patrons behind a sketch: exact below k, KMV estimate at k."""
    if len(values) < k:
        return float(len(values))
    return (k - 1) / (values[k - 1] / 2.0**64)
