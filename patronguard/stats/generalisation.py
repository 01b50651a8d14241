"""Generalisation instead of suppression: merge categories (month → quarter, narrow → wide age band).

Global recoding, as in sdcMicro / τ-ARGUS: fewer, wider categories, so
fewer cells fall below k and fewer counts need hiding. Counts add up; the
distinct patrons of a merged cell do not (one patron borrows in March and in
April), and the warehouse's sketches are salted per cell, so they cannot be
merged either. The query layer re-counts distinct patrons at the coarser grain
and passes them as ``patrons``; without them a merged cell gets the largest of
its parts — a lower bound, which errs on the side of suppressing.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

from ..errors import InputError
from .suppression import sensitive_keys
from .table import Cell, CountTable, Key

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: Narrow age bands of the warehouse (retention.aggregate.AGE_BANDS) → wide bands.
WIDE_AGE_BANDS: dict[str, str] = {
    "0-12": "0-17", "13-17": "0-17",
    "18-24": "18-64", "25-44": "18-64", "45-64": "18-64",
    "65+": "65+", "?": "?",
}


def month_to_quarter(month: str) -> str:
    """``"2026-05"`` → ``"2026-Q2"``."""
    match = _MONTH.match(str(month))
    if not match:
        raise InputError(f"month category {month!r} is not YYYY-MM, so it cannot be generalised to a quarter")
    return f"{match.group(1)}-Q{(int(match.group(2)) - 1) // 3 + 1}"


def wide_age_band(band: str) -> str:
    try:
        return WIDE_AGE_BANDS[band]
    except KeyError:
        raise InputError(f"age band {band!r} has no wider band to generalise to") from None


#: dimension → (dimension name after, recoding) of the generalisations offered.
GENERALISATIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "month": ("quarter", month_to_quarter),
    "age_band": ("age_band", wide_age_band),
}


def generalise(
    table: CountTable,
    dimension: str,
    recode: Callable[[str], str] | Mapping[str, str] | None = None,
    *,
    renamed: str | None = None,
    patrons: Mapping[Key, int] | None = None,
) -> CountTable:
    """``table`` with ``dimension``'s categories merged by ``recode`` (default: :data:`GENERALISATIONS`).

    ``patrons`` gives the distinct patrons of each merged interior cell, keyed as in
    the result; cells it does not cover get the lower bound (largest part).
    """
    if dimension not in table.dimensions:
        raise InputError(f"cannot generalise {dimension!r}: the table's dimensions are {', '.join(table.dimensions)}")
    if recode is None:
        if dimension not in GENERALISATIONS:
            raise InputError(f"no generalisation is defined for {dimension!r}; "
                             f"offered: {', '.join(sorted(GENERALISATIONS))}")
        default_name, recode = GENERALISATIONS[dimension]
        renamed = renamed or default_name
    mapping = recode.get if isinstance(recode, Mapping) else recode
    axis = table.dimensions.index(dimension)
    new_dims = tuple(renamed or dimension if i == axis else d for i, d in enumerate(table.dimensions))
    wide: dict[str, str] = {}
    for category in table.categories[dimension]:
        target = mapping(category)
        if target is None:
            raise InputError(f"generalising {dimension!r}: category {category!r} maps to nothing")
        wide[category] = target
    merged_values: dict[Key, int] = {}
    merged_patrons: dict[Key, int] = {}
    for key, cell in table.cells.items():
        into = key[:axis] + (wide[key[axis]],) + key[axis + 1:]
        merged_values[into] = merged_values.get(into, 0) + cell.value
        merged_patrons[into] = max(merged_patrons.get(into, 0), cell.patrons)
    for key, count in (patrons or {}).items():
        if key not in merged_values:
            continue  # a re-count may list empty cells
        if count < merged_patrons[key]:
            raise InputError("generalised patrons: fewer distinct patrons than in one of the merged cells")
        merged_patrons[key] = count
    categories = {d: table.categories[d] for d in table.dimensions}
    categories.pop(dimension)
    categories[new_dims[axis]] = tuple(dict.fromkeys(wide[c] for c in table.categories[dimension]))
    cells = {key: Cell(value, merged_patrons[key]) for key, value in merged_values.items()}
    return CountTable(new_dims, cells, categories=categories)


def small_cells(table: CountTable, k: int) -> list[Key]:
    """Interior cells still below k distinct patrons (and above 0): what suppression would hide."""
    return sorted((key for key in sensitive_keys(table, k) if not table.is_margin(key)), key=table.index_of)


def widen_age_band_cells(cells: Mapping[Key, int], axis: int, *, add: bool) -> dict[Key, int]:
    """Cells keyed with a narrow age band at ``axis``, re-keyed by the wide band: counts added (``add``), or the
    largest part kept (distinct patrons of a merged cell: a lower bound)."""
    out: dict[Key, int] = {}
    for key, n in cells.items():
        into = key[:axis] + (wide_age_band(key[axis]),) + key[axis + 1:]
        out[into] = out.get(into, 0) + n if add else max(out.get(into, 0), n)
    return out
