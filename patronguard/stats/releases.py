"""What each statistics table released, kept: a later release of the same table publishes the same figures
and protects its hidden cells against them too ("including totals released earlier for the same table").

A table is its question — dimensions, filters and period, for one measure — whatever k or the day it was asked.
Its released figures (cells and totals, counts only) are kept in the store's ``stats_releases`` (migration 7)
and passed to :func:`patronguard.stats.suppress` as ``released_before``. If the data behind an earlier release
has changed (an open period), suppression refuses with one line rather than publish a second, different total
next to the first (a differencing attack needs exactly that).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa

from .table import TOTAL


def table_identity(request, today: dt.date | None = None) -> str:
    """SHA-256 of the question a table answers (not k, not who asked). An open period ends today: asked again
    another day it is another table (its counts have moved on; see the README on differencing)."""
    last = request.to_day or today or dt.date.today()
    canonical = {"by": list(request.by), "where": dict(sorted(request.where.items())),
                 "from": str(request.from_day or ""), "to": str(last)}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _key(parts) -> tuple:
    return tuple(TOTAL if p is None else p for p in parts)


def earlier_releases(store, identity: str) -> dict[str, dict[tuple, int]]:
    """measure → {key: value} published earlier for this table."""
    t = store["stats_releases"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.measure, t.c.figures).where(t.c.table_sha256 == identity)).all()
    return {measure: {_key(key): int(value) for key, value in json.loads(figures)} for measure, figures in rows}


def released_figures(result) -> dict[tuple, int]:
    """Every figure a suppression result publishes: released cells and totals, and what was published before."""
    table = result.table
    keys = list(table.interior_keys()) + list(table.margin_keys())
    out = {key: int(table.value(key)) for key in keys if key not in result.suppressed}
    out.update(result.released_before)
    return out


def remember_release(store, identity: str, controlled) -> None:
    """Add this release's figures to the table's record (figures published earlier keep their values)."""
    t = store["stats_releases"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with store.engine.begin() as conn:
        for measure, result in controlled.results.items():
            row = conn.execute(sa.select(t.c.figures).where(t.c.table_sha256 == identity, t.c.measure == measure)
                               ).first()
            figures = released_figures(result)
            if row is None:
                conn.execute(t.insert().values(table_sha256=identity, measure=measure, first_released_at=now,
                                               last_released_at=now, figures=_dump(figures)))
                continue
            kept = {_key(key): int(value) for key, value in json.loads(row[0])}
            conn.execute(t.update().where(t.c.table_sha256 == identity, t.c.measure == measure).values(
                figures=_dump(figures | kept), last_released_at=now))


def _dump(figures: dict[tuple, int]) -> str:
    return json.dumps(sorted(([[None if p is TOTAL else p for p in key], value] for key, value in figures.items()),
                             key=lambda kv: json.dumps(kv[0])), separators=(",", ":"))
