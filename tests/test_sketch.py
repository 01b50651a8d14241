"""Distinct-patron sketches: exact below k, the k smallest keyed hashes above, the same however batched."""
from __future__ import annotations

import random

from patronguard.retention import sketch

KEY = bytes(range(32))
CELL = ("statistics", "2024-03", "MPL", "PT", "25-44")


def test_exact_below_k_and_the_k_smallest_above():
    few = sketch.cell_hashes(KEY, CELL, [3, 1, 2, 2, 1])
    assert len(few) == 3 and few == sorted(few)
    many = sketch.cell_hashes(KEY, CELL, range(1, 5001))
    everyone = [sketch.cell_hashes(KEY, CELL, [p])[0] for p in range(1, 5001)]
    assert many == sorted(everyone)[:sketch.K]


def test_batches_merge_to_the_one_pass_sketch():
    rng = random.Random(7)
    patrons = [rng.randint(1, 3000) for _ in range(20000)]
    whole = sketch.cell_hashes(KEY, CELL, patrons)
    merged: list[int] = []
    for start in range(0, len(patrons), 37):
        merged = sketch.merge(merged, sketch.cell_hashes(KEY, CELL, patrons[start:start + 37]))
    assert merged == whole


def test_the_cell_salts_the_hash():
    other = ("statistics", "2024-04", "MPL", "PT", "25-44")
    assert sketch.cell_hashes(KEY, CELL, [42]) != sketch.cell_hashes(KEY, other, [42])
    assert sketch.cell_hashes(KEY, CELL, [42]) != sketch.cell_hashes(bytes(32), CELL, [42])
