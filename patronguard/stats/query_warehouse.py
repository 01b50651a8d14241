"""The warehouse half of a statistics query, and the period expressions both halves share.

Counts come from ``stats_circulation`` grouped in the store's database (one
``GROUP BY`` per source); distinct-patron sketches from
``stats_distinct_patrons``, read row by row (one small blob per cell).
Periods are derived from the ``day`` in SQL, the same way for the warehouse
and the live ILS, so the two halves fall into the same cells.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import InputError
from ..retention import sketch
from ..store import Store

#: request dimension -> warehouse / live column name (the periods are derived from ``day``)
COLUMN_OF = {"branch": "branch", "itemtype": "itemtype", "collection": "ccode", "location": "location",
             "patron_category": "patron_category", "age_band": "age_band"}
PERIOD_DIMS = ("day", "week", "month", "quarter", "year")
#: dimensions that describe the patron: rows whose patron link is gone (and was not counted) have "?" here
PATRON_DIMS = ("patron_category", "age_band")
#: the grain of the distinct-patron sketches, and the request dimensions they can answer
SKETCH_DIMS = ("month", "quarter", "year", "branch", "patron_category", "age_band")
UNKNOWN = "?"


def _text(value: str) -> sa.ColumnElement:
    """A constant of this module (a date format), inlined: never a request value."""
    return sa.literal_column("'" + value + "'")


def period(day: sa.ColumnElement, grain: str, dialect: str) -> sa.ColumnElement:
    """``day`` as the label of its period: 2026-03-01, 2026-W09 (ISO week), 2026-03, 2026-Q1, 2026."""
    if dialect == "sqlite":
        d = sa.func.date(day)
        if grain == "day":
            return d
        if grain == "month":
            return sa.func.substr(d, 1, 7)
        if grain == "year":
            return sa.func.substr(d, 1, 4)
        if grain == "quarter":
            month = sa.cast(sa.func.substr(d, 6, 2), sa.Integer)
            return sa.func.printf(_text("%s-Q%d"), sa.func.substr(d, 1, 4), (month + 2) / 3)
        # ISO week: the Thursday of the week names its year; SQLite 3.40 has no %V
        thursday = sa.func.date(d, _text("-3 days"), _text("weekday 4"))
        week = (sa.cast(sa.func.strftime(_text("%j"), thursday), sa.Integer) - 1) / 7 + 1
        return sa.func.printf(_text("%s-W%02d"), sa.func.strftime(_text("%Y"), thursday), week)
    if dialect == "postgresql":
        formats = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q',
                   "year": "YYYY"}
        return sa.func.to_char(sa.cast(day, sa.Date), _text(formats[grain]))
    if grain == "quarter":
        return sa.func.concat(sa.func.year(day), _text("-Q"), sa.func.quarter(day))
    formats = {"day": "%Y-%m-%d", "week": "%x-W%v", "month": "%Y-%m", "year": "%Y"}
    return sa.func.date_format(day, _text(formats[grain]))


def day_bound(day: dt.date, dialect: str):
    """A day as a bound value comparable with a day column or ``date()`` of this dialect."""
    return sa.literal(day.isoformat(), sa.String) if dialect == "sqlite" else sa.literal(day, sa.Date)


def dimension(name: str, columns, day: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    if name in PERIOD_DIMS:
        return period(day, name, dialect)
    if name not in COLUMN_OF:
        raise InputError(f"--by: {name} is not kept in the statistics warehouse (rows whose patron link was "
                         "removed are counted without it), so totals by it cannot be complete")
    return columns[COLUMN_OF[name]]


def warehouse_counts(conn: Connection, store: Store, source: str, grouping: tuple[str, ...],
                     events: tuple[str, ...] | None, first: dt.date | None, last: dt.date | None,
                     where: dict[str, str]) -> dict[tuple, list[int]]:
    """(grouping values…, event) -> [events, renewals] of one source, summed in SQL."""
    t = store["stats_circulation"]
    dialect = conn.dialect.name
    inner = sa.select(*(dimension(d, t.c, t.c.day, dialect).label(d) for d in grouping),
                      t.c.event, t.c.events, t.c.renewals).where(t.c.source == source)
    if events is not None:
        inner = inner.where(t.c.event.in_(events))
    if first is not None:
        inner = inner.where(t.c.day >= first)
    if last is not None:
        inner = inner.where(t.c.day <= last)
    rows = inner.subquery("w")
    keys = [rows.c[d] for d in grouping] + [rows.c.event]
    query = (sa.select(*keys, sa.func.sum(rows.c.events), sa.func.sum(rows.c.renewals))
             .where(*(rows.c[d] == sa.bindparam(f"where_{d}", v, type_=sa.String) for d, v in where.items()))
             .group_by(*keys))
    out: dict[tuple, list[int]] = {}
    for row in conn.execute(query):
        out[tuple(str(v) for v in row[:-2])] = [int(row[-2] or 0), int(row[-1] or 0)]
    return out


def warehouse_sketches(conn: Connection, store: Store, source: str, first_month: str | None,
                       last_month: str | None) -> Iterator[tuple[tuple[str, str, str, str], list[int]]]:
    """((month, branch, patron_category, age_band), kmv values) of one source, one cell at a time."""
    t = store["stats_distinct_patrons"]
    query = sa.select(t.c.month, t.c.branch, t.c.patron_category, t.c.age_band, t.c.sketch).where(t.c.source == source)
    if first_month is not None:
        query = query.where(t.c.month >= first_month)
    if last_month is not None:
        query = query.where(t.c.month <= last_month)
    for month, branch, category, band, blob in conn.execution_options(stream_results=True).execute(query):
        yield (month, branch, category, band), sketch.unpack(blob)


def sketch_dimension(name: str, month: str, branch: str, category: str, band: str) -> str:
    """The value of request dimension ``name`` for a sketch cell."""
    if name == "month":
        return month
    if name == "year":
        return month[:4]
    if name == "quarter":
        return f"{month[:4]}-Q{(int(month[5:7]) + 2) // 3}"
    return {"branch": branch, "patron_category": category, "age_band": band}[name]
