"""What each statistics table released, kept: a later release of the same table publishes the same figures
and protects its hidden cells against them too ("including totals released earlier for the same table").

A table is its question — dimensions, filters and period, for one measure — whatever k or the day it was asked.
Its released figures (cells and totals, counts only) are kept in the store's ``stats_releases`` (migration 7)
and passed to :func:`patronguard.stats.suppress` as ``released_before``. If the data behind an earlier release
has changed (an open period), suppression refuses with one line rather than publish a second, different total
next to the first (a differencing attack needs exactly that).

The same *question* (dimensions and filters) asked over another period is another table, but the two are not
independent: where one period holds the other, their difference is the table of the days between, and a cell of
that difference may have fewer than k patrons. ``stats_release_periods`` (migration 10) keeps each table's
question and days, so :mod:`patronguard.stats.overlap` can find the nested releases and hide what they would
give away.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

from .table import TOTAL


@dataclass(frozen=True)
class EarlierRelease:
    """A release of the same question over another period: its days and, per measure, its published figures."""

    first_day: dt.date | None      # None: since the first loan
    last_day: dt.date
    figures: dict[str, dict[tuple, int]]


def question_identity(request) -> str:
    """SHA-256 of what a table asks whatever its period: dimensions and filters."""
    canonical = {"by": list(request.by), "where": dict(sorted(request.where.items()))} | _bands(request)
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def table_identity(request, today: dt.date | None = None) -> str:
    """SHA-256 of the question a table answers (not k, not who asked). An open period ends today: asked again
    another day it is another table (its counts have moved on; see the README on differencing)."""
    last = request.to_day or today or dt.date.today()
    canonical = {"by": list(request.by), "where": dict(sorted(request.where.items())),
                 "from": str(request.from_day or ""), "to": str(last)} | _bands(request)
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _bands(request) -> dict:
    """Wide age bands are other categories, so another table (absent when narrow: earlier hashes stand)."""
    return {"age_bands": "wide"} if getattr(request, "wide_age_bands", False) and "age_band" in request.by else {}


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


def remember_release(store, identity: str, controlled, request=None) -> None:
    """Add this release's figures to the table's record (figures published earlier keep their values), and the
    question and days it answered (``request``)."""
    t = store["stats_releases"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with store.engine.begin() as conn:
        if request is not None and request.to_day is not None and controlled.results:
            periods = store["stats_release_periods"]
            if conn.execute(sa.select(periods.c.table_sha256).where(periods.c.table_sha256 == identity)).first() is None:
                conn.execute(periods.insert().values(table_sha256=identity, question_sha256=question_identity(request),
                                                     first_day=request.from_day, last_day=request.to_day))
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


def nested_releases(store, request) -> list[EarlierRelease]:
    """Earlier releases of the request's question over a period that holds, or is held by, the request's
    (another period, not the same table). Partly overlapping periods are not nested: their difference is a
    difference of two periods' cells, not one cell of a period."""
    periods, t = store["stats_release_periods"], store["stats_releases"]
    first, last = request.from_day or dt.date.min, request.to_day
    out = []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(periods.c.table_sha256, periods.c.first_day, periods.c.last_day).where(
            periods.c.question_sha256 == question_identity(request)).order_by(periods.c.last_day, periods.c.first_day)
        ).all()
        for identity, first_day, last_day in rows:
            other_first = first_day or dt.date.min
            if (other_first, last_day) == (first, last):
                continue      # the same table: its figures are kept by suppression itself
            if not ((other_first <= first and last <= last_day) or (first <= other_first and last_day <= last)):
                continue
            figures = {measure: {_key(key): int(value) for key, value in json.loads(text)}
                       for measure, text in conn.execute(sa.select(t.c.measure, t.c.figures)
                                                         .where(t.c.table_sha256 == identity))}
            out.append(EarlierRelease(first_day, last_day, figures))
    return out
