"""``removed_patrons``: the patrons the retention run removed, from the warehouse's ``stats_patrons_removed``
(kept by the run when it removes an expired patron: expiry year, branch, category, age band in the expiry year,
enrolment year — and, since store migration 9, enrolment month and age band at enrolment, which
``query_registrations`` counts; summed over here, they change no figure of this measure).

A removed patron is one person in one cell, so each cell's count is also its number of distinct patrons. The
period is the card's expiry year (the event that made the record unnecessary); finer periods, and item or
collection dimensions, are not kept and are refused.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import InputError
from ..store import Store

#: request dimension -> stats_patrons_removed column
REMOVED_COLUMNS = {"year": "expiry_year", "branch": "branch", "patron_category": "patron_category",
                   "age_band": "age_band"}


def check_removed_answerable(request) -> None:
    other = [d for d in request.grouping if d not in REMOVED_COLUMNS]
    if other:
        raise InputError(f"--measures: removed_patrons is kept by expiry year, branch, patron_category and "
                         f"age_band only, not by {', '.join(other)}")
    for day, edge in ((request.from_day, (1, 1)), (request.to_day, (12, 31))):
        if day is not None and (day.month, day.day) != edge:
            raise InputError("--from/--to: removed_patrons is kept by expiry year: give whole years "
                             "(YYYY-01-01 to YYYY-12-31)")


def removed_counts(store: Store, request) -> dict[tuple, int]:
    """Removed patrons per cell of ``request.grouping`` (bound values only)."""
    t = store["stats_patrons_removed"]
    columns = [sa.cast(t.c[REMOVED_COLUMNS[d]], sa.String).label(d) if d == "year" else t.c[REMOVED_COLUMNS[d]]
               for d in request.grouping]
    query = sa.select(*columns, sa.func.sum(t.c.patrons)).where(t.c.removed_as == "expired").group_by(*columns)
    if request.from_day is not None:
        query = query.where(t.c.expiry_year >= request.from_day.year)
    if request.to_day is not None:
        query = query.where(t.c.expiry_year <= request.to_day.year)
    for dim, value in request.where.items():
        column = t.c[REMOVED_COLUMNS[dim]]
        query = query.where(column == (int(value) if dim == "year" else value))
    with store.engine.connect() as conn:
        return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in conn.execute(query)}
