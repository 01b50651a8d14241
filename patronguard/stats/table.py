"""A count table with every marginal total: the thing disclosure control works on.

A table has named dimensions (``("month", "branch", "patron_category")``), an
ordered list of categories per dimension, and interior cells keyed by one
category per dimension. Each cell carries its count and its number of
distinct patrons (the warehouse's distinct-patron sketches give the latter,
exact below 32).

Every subset of the dimensions has marginal totals; a margin's key is the
interior key with :data:`TOTAL` (``None``) in the summed-over positions, so
``("2026-03", None, None)`` is "March, all branches, all categories" and
``(None, None, None)`` is the grand total. Interior cells and margins share
one key space, which is what the suppression and the audit reason about.

Distinct patrons of a margin cannot be added up from its cells (one patron
appears in several). Unless the query supplies them (``margin_patrons``), a
margin gets the largest of its cells' counts: a lower bound, which errs on
the side of suppressing.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..errors import InputError

#: The key entry of a summed-over dimension.
TOTAL = None

Key = tuple  # tuple[str | None, ...]: one entry per dimension, TOTAL where summed over


@dataclass(frozen=True)
class Cell:
    """One interior cell: its count and the distinct patrons behind it (a cell with count 0 is empty)."""

    value: int
    patrons: int

    def __post_init__(self) -> None:
        if self.value < 0 or self.patrons < 0:
            raise InputError("a table cell has a negative count or a negative number of patrons")


def key_text(key: Key) -> str:
    """A key for messages and CSV: ``2026-03 / * / adult`` (categories are not patron values)."""
    return " / ".join("*" if part is TOTAL else str(part) for part in key)


class CountTable:
    """Interior cells over named dimensions, with all marginal totals derived.

    ``cells`` maps a tuple of one category per dimension to a :class:`Cell`;
    cells not given are zero. ``categories`` fixes the order (and may list
    categories with no cells); by default each dimension's categories are the
    sorted values seen. ``margin_patrons`` optionally gives the distinct
    patrons of margins (keys with :data:`TOTAL`), as a query at that grain
    would count them.
    """

    def __init__(
        self,
        dimensions: Sequence[str],
        cells: Mapping[Key, Cell],
        *,
        categories: Mapping[str, Sequence[str]] | None = None,
        margin_patrons: Mapping[Key, int] | None = None,
    ) -> None:
        self.dimensions: tuple[str, ...] = tuple(dimensions)
        if not self.dimensions or len(set(self.dimensions)) != len(self.dimensions):
            raise InputError("a count table needs at least one dimension and no dimension twice")
        n = len(self.dimensions)
        for key in cells:
            if not isinstance(key, tuple) or len(key) != n or any(part is TOTAL for part in key):
                raise InputError(f"table cell key {key_text(key) if isinstance(key, tuple) else key!r} "
                                 f"does not name one category for each of {', '.join(self.dimensions)}")
        if categories is None:
            categories = {d: sorted({key[i] for key in cells}, key=str) for i, d in enumerate(self.dimensions)}
        self.categories: dict[str, tuple[str, ...]] = {}
        for i, dim in enumerate(self.dimensions):
            listed = tuple(categories.get(dim, ()))
            if len(set(listed)) != len(listed) or TOTAL in listed:
                raise InputError(f"dimension {dim!r} lists a category twice or a missing category")
            unseen = {key[i] for key in cells} - set(listed)
            if unseen:
                raise InputError(f"dimension {dim!r}: a cell uses a category not in its category list")
            if not listed:
                raise InputError(f"dimension {dim!r} has no categories")
            self.categories[dim] = listed
        self._index = [{c: j for j, c in enumerate(self.categories[d])} for d in self.dimensions]
        self.shape: tuple[int, ...] = tuple(len(self.categories[d]) for d in self.dimensions)
        # a count of 0 has nobody behind it, whatever patrons the query saw for another measure
        self.cells: dict[Key, Cell] = {k: v for k, v in cells.items() if v.value > 0}

        values = np.zeros(self.shape, dtype=np.int64)
        patrons = np.zeros(self.shape, dtype=np.int64)
        for key, cell in self.cells.items():
            at = self.index_of(key)
            values[at], patrons[at] = cell.value, cell.patrons
        self.values = _extend(values, np.sum)
        # lower bound for margins: one patron may sit in several cells, so the largest cell is all we know
        self.patrons = _extend(patrons, np.max)
        for key, count in (margin_patrons or {}).items():
            at = self.index_of(key)
            if count < self.patrons[at]:
                raise InputError(f"margin {key_text(key)}: fewer distinct patrons than one of its cells")
            self.patrons[at] = count

    # ---- keys and positions -------------------------------------------------------------------------------
    def index_of(self, key: Key) -> tuple[int, ...]:
        """Position of ``key`` in the extended arrays (the last index of a dimension is its total)."""
        if not isinstance(key, tuple) or len(key) != len(self.dimensions):
            raise InputError(f"key {key!r} does not have one entry for each of {', '.join(self.dimensions)}")
        at = []
        for dim, part, index, size in zip(self.dimensions, key, self._index, self.shape):
            if part is TOTAL:
                at.append(size)
            elif part in index:
                at.append(index[part])
            else:
                raise InputError(f"dimension {dim!r} has no category {part!r}")
        return tuple(at)

    def has(self, key: Key) -> bool:
        """Whether ``key`` is a cell or total of this table."""
        return (isinstance(key, tuple) and len(key) == len(self.dimensions)
                and all(part is TOTAL or part in index for part, index in zip(key, self._index)))

    def key_at(self, at: Sequence[int]) -> Key:
        return tuple(TOTAL if j == size else self.categories[d][j]
                     for d, j, size in zip(self.dimensions, at, self.shape))

    def interior_keys(self) -> Iterator[Key]:
        return itertools.product(*(self.categories[d] for d in self.dimensions))

    def margin_keys(self) -> Iterator[Key]:
        """Every marginal total, grand total included."""
        choices = [self.categories[d] + (TOTAL,) for d in self.dimensions]
        return (k for k in itertools.product(*choices) if TOTAL in k)

    def is_margin(self, key: Key) -> bool:
        return TOTAL in key

    # ---- values -------------------------------------------------------------------------------------------
    def value(self, key: Key) -> int:
        return int(self.values[self.index_of(key)])

    def patrons_of(self, key: Key) -> int:
        """Distinct patrons of a cell; of a margin, as given or the lower bound."""
        return int(self.patrons[self.index_of(key)])

    def margins(self) -> dict[Key, int]:
        """All marginal totals of every subset of dimensions, grand total included."""
        return {k: self.value(k) for k in self.margin_keys()}

    def __repr__(self) -> str:
        return f"CountTable({' x '.join(f'{d}[{s}]' for d, s in zip(self.dimensions, self.shape))})"


def _extend(interior: np.ndarray, combine) -> np.ndarray:
    """The interior array with one more slot per axis holding the totals of every subset of axes."""
    extended = np.zeros(tuple(s + 1 for s in interior.shape), dtype=interior.dtype)
    extended[tuple(slice(0, s) for s in interior.shape)] = interior
    for axis, size in enumerate(interior.shape):
        into = [slice(None)] * interior.ndim
        into[axis] = size
        source = [slice(None)] * interior.ndim
        source[axis] = slice(0, size)
        extended[tuple(into)] = combine(extended[tuple(source)], axis=axis)
    return extended
