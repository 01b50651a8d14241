"""The batch ledger: exactly-once across two databases.

The warehouse lives in the store, the strip happens in the ILS. Each batch:

1. reads its rows (keys or a time slice plus its patrons) and their warehouse
   contribution inside an ILS transaction that holds the rows locked;
2. **prepare** — commits to the store a ledger row (status ``prepared``) with
   the exact selector and the deltas, but does not touch the warehouse yet;
3. strips or deletes exactly those rows and commits the ILS transaction;
4. **complete** — in one store transaction adds the deltas to the warehouse
   and marks the batch ``done``.

Killed between 2 and 3, the ILS rolled back: the selected rows still identify
their patrons, so recovery marks the batch ``abandoned`` and the rows are
picked up afresh. Killed between 3 and 4, none of them identify anyone any
more, so recovery completes the batch. The ILS transaction is atomic, so one
of the two is always true; a mixture means someone else changed the rows and
the run stops and says so.
"""
from __future__ import annotations

import datetime as dt
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from ..store import Store
from . import sketch

#: event, day, branch, itemtype, ccode, location, patron category, age band
_FACT_DIMS = itemgetter(0, 1, 2, 3, 4, 5, 6, 7)
_CELL_OF_ROW = itemgetter(1, 2, 6, 7, 8)    # day, branch, patron category, age band, patron
#: where a fact tuple (source, event, day, branch, itemtype, ccode, …) has the shelving location (store 8+)
_LOCATION_AT = 6

_ZERO = Decimal(0)
PREPARED, DONE, ABANDONED = "prepared", "done", "abandoned"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def pack_json(data) -> bytes:
    """Compact JSON, lightly compressed (orjson: a batch's deltas are up to tens of thousands of cells)."""
    return zlib.compress(orjson.dumps(data, default=str), 1)


def unpack_json(blob: bytes):
    return orjson.loads(zlib.decompress(blob))


@dataclass
class Deltas:
    """What one batch adds to the warehouse, and what it did (counts only)."""

    circulation: list[tuple] = field(default_factory=list)   # (source, dims…, events, renewals, amount)
    cells: dict[tuple, list[int]] = field(default_factory=dict)    # (source, month, branch, cat, band) -> kmv
    patrons_removed: dict[tuple, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def count(self, table: str, what: str, n: int) -> None:
        if n:
            self.counts[table][what] = self.counts[table].get(what, 0) + n

    def add_facts(self, source: str, rows, key: bytes) -> int:
        """Rows of (event, day, branch, itemtype, ccode, location, patron_category, age_band, patron, events,
        renewals, amount): add the warehouse counts and the sketch cells' patrons; return the rows they stand for.

        The hot loop of a retention run (one row per loan, and a fact for about two rows in three), so it is
        written for CPython: rows are counted per cell by ``Counter`` over ``itemgetter`` keys (both in C);
        only the rows that carry renewals, an amount or more than one event are summed in Python."""
        if not rows:
            return 0
        if rows[0][1].__class__ is not str:  # servers return dates, SQLite (and the packed fetch) text
            rows = [(r[0], str(r[1])[:10], *r[2:]) for r in rows]
        counted = Counter(map(_FACT_DIMS, rows))
        sums: dict[tuple, list] = {}
        for row in rows:
            if row[9] != 1 or row[10] or row[11]:
                dims = row[:8]
                known = sums.get(dims)
                if known is None:
                    sums[dims] = [row[9] - 1, row[10] or 0, row[11] or 0]
                else:
                    known[0] += row[9] - 1
                    known[1] += row[10] or 0
                    known[2] += row[11] or 0
        # most cells are rows counted and nothing more: their facts in one comprehension
        self.circulation.extend([(source, *dims, n, 0, "0") for dims, n in counted.items() if dims not in sums])
        total = len(rows)
        for dims, (more, renewals, amount) in sums.items():
            total += more
            self.circulation.append((source, *dims, int(counted[dims] + more), int(renewals), str(amount)))
        cells: dict[tuple, set] = defaultdict(set)
        for day, branch, category, band, patron in map(_CELL_OF_ROW, rows):
            cells[(day[:7], branch, category, band)].add(patron)
        for (month, branch, category, band), patrons in cells.items():
            cell = (source, month, branch, category, band)
            self.cells[cell] = sketch.merge(self.cells.get(cell, []), sketch.cell_hashes(key, cell, patrons))
        return int(total)

    def to_blob(self) -> bytes:
        return pack_json({
            "circulation": self.circulation,
            "cells": [[*k, v] for k, v in self.cells.items()],
            "patrons_removed": [[*k, v] for k, v in self.patrons_removed.items()],
            "counts": self.counts,
        })

    @classmethod
    def from_blob(cls, blob: bytes) -> "Deltas":
        data = unpack_json(blob)
        out = cls()
        out.circulation = [_with_location(r) for r in data["circulation"]]
        out.cells = {tuple(r[:5]): r[5] for r in data["cells"]}
        out.patrons_removed = {tuple(r[:-1]): r[-1] for r in data["patrons_removed"]}
        out.counts = defaultdict(dict, data["counts"])
        return out


def _with_location(fact: list) -> tuple:
    """A fact of a ledger blob as a tuple; one prepared before the shelving location was kept (store
    migration 8: one column fewer) gets "?" — a batch recovered after the upgrade lands where migration 8
    put the rows counted before it."""
    if len(fact) == len(CIRCULATION_COLUMNS) - 1:
        return (*fact[:_LOCATION_AT], "?", *fact[_LOCATION_AT:])
    return tuple(fact)


def _insert(dialect: str):
    return {"sqlite": sqlite_dialect.insert, "postgresql": pg_dialect.insert}.get(dialect, mysql_dialect.insert)


def _driver_value(value, dialect: str):
    if dialect == "sqlite":
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.date):
            return value.isoformat()
    return value


def executemany_compiled(conn: Connection, stmt, rows: list[dict]) -> None:
    """Compile once, then hand all rows to the driver's executemany (no per-row SQLAlchemy work)."""
    compiled = stmt.compile(dialect=conn.dialect)
    dialect = conn.dialect.name
    if compiled.positional:
        order = compiled.positiontup
        params = [tuple(_driver_value(row[name], dialect) for name in order) for row in rows]
    else:
        params = [{k: _driver_value(v, dialect) for k, v in row.items()} for row in rows]
    conn.exec_driver_sql(str(compiled), params)


CIRCULATION_COLUMNS = ("source", "event", "day", "branch", "itemtype", "ccode", "location", "patron_category",
                       "age_band", "events", "renewals", "amount")


def _upsert_statement(conn: Connection, table: sa.Table, columns, update: list[str], *, add: bool):
    """INSERT of ``columns``; on an existing primary key, ``update`` columns are added to (``add``) or replaced."""
    dialect = conn.dialect.name
    stmt = _insert(dialect)(table)
    incoming = stmt.inserted if dialect in ("mysql", "mariadb") else stmt.excluded
    values = {c: (table.c[c] + incoming[c]) if add else incoming[c] for c in update}
    if dialect in ("mysql", "mariadb"):
        stmt = stmt.on_duplicate_key_update(values)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=[c.name for c in table.primary_key], set_=values)
    return stmt.values({name: sa.bindparam(name) for name in columns})


def upsert_add_tuples(conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple],
                      add: list[str]) -> None:
    """``upsert_add`` for driver-ready tuples in ``columns`` order (positional paramstyles only)."""
    if not rows:
        return
    compiled = _upsert_statement(conn, table, columns, add, add=True).compile(dialect=conn.dialect)
    if not compiled.positional or tuple(compiled.positiontup) != tuple(columns):
        raise RuntimeError("upsert_add_tuples needs a positional paramstyle in column order")
    conn.exec_driver_sql(str(compiled), rows)


def upsert_add(conn: Connection, table: sa.Table, rows: list[dict], add: list[str]) -> None:
    """Insert rows; where the primary key exists, add the ``add`` columns instead."""
    if not rows:
        return
    executemany_compiled(conn, _upsert_statement(conn, table, list(rows[0]), add, add=True), rows)


def upsert_replace(conn: Connection, table: sa.Table, rows: list[dict], replace: list[str]) -> None:
    """Insert rows; where the primary key exists, replace the ``replace`` columns instead."""
    if not rows:
        return
    executemany_compiled(conn, _upsert_statement(conn, table, list(rows[0]), replace, add=False), rows)


def apply_deltas(conn: Connection, store: Store, deltas: Deltas) -> None:
    """Add a batch's deltas to the warehouse (inside the caller's store transaction)."""
    circ = store["stats_circulation"]
    if conn.dialect.name == "sqlite":
        # hot path: the delta tuples are already in column order with SQLite-ready values
        upsert_add_tuples(conn, circ, CIRCULATION_COLUMNS, deltas.circulation, ["events", "renewals", "amount"])
    else:
        upsert_add(conn, circ, [
            dict(zip(CIRCULATION_COLUMNS, (*r[:2], dt.date.fromisoformat(r[2]), *r[3:11], Decimal(r[11]))))
            for r in deltas.circulation
        ], ["events", "renewals", "amount"])
    if deltas.cells:
        cells = store["stats_distinct_patrons"]
        existing: dict[tuple, list[int]] = {}
        keys = list(deltas.cells)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            months = sorted({k[1] for k in chunk})
            sources = sorted({k[0] for k in chunk})
            for row in conn.execute(sa.select(cells).where(cells.c.source.in_(sources), cells.c.month.in_(months))):
                existing[(row.source, row.month, row.branch, row.patron_category, row.age_band)] = sketch.unpack(row.sketch)
        upsert_replace(conn, cells, [
            dict(zip(("source", "month", "branch", "patron_category", "age_band"), k),
                 sketch=sketch.pack(sketch.merge(existing.get(k, []), v)))
            for k, v in deltas.cells.items()
        ], ["sketch"])
    upsert_add(conn, store["stats_patrons_removed"], [
        dict(zip(REMOVED_COLUMNS, _removed_key(k)), patrons=v)
        for k, v in deltas.patrons_removed.items()
    ], ["patrons"])


#: a ``Deltas.patrons_removed`` key (``retention.removed``). A batch prepared before store migration 9 (recovered
#: after it) has the first five only: its enrolment month and age band at enrolment are "?", not kept, as
#: migration 9 marks them, and it removed expired patrons (nothing else was counted then)
REMOVED_COLUMNS = ("expiry_year", "branch", "patron_category", "age_band", "enrolled_year", "enrolled_month",
                   "enrolled_age_band", "removed_as")


def _removed_key(k: tuple) -> tuple:
    return (*k, "?", "?", "expired")[:len(REMOVED_COLUMNS)] if len(k) == 5 else tuple(k)


class Ledger:
    def __init__(self, store: Store):
        self.store = store
        self.table = store["retention_batches"]

    def prepare(self, *, run_id: str, table: str, action: str, scope: str, selector: dict,
                deltas: Deltas, row_count: int, scrubbed: int = 0) -> str:
        batch_id = str(uuid.uuid4())
        with self.store.engine.begin() as conn:
            conn.execute(self.table.insert().values(
                batch_id=batch_id, run_id=run_id, table_name=table, action=action, scope=scope, status=PREPARED,
                row_count=row_count, scrubbed=scrubbed, selector=pack_json(selector), deltas=deltas.to_blob(),
                created_at=_utcnow(),
            ))
        return batch_id

    def complete(self, batch_id: str, deltas: Deltas | None = None) -> None:
        """Add the batch's deltas to the warehouse and mark it done (``deltas``: the in-memory copy of
        what was prepared, saving a decode; recovery passes none and reads the ledger's)."""
        with self.store.engine.begin() as conn:
            # claim the batch first: of two transactions completing it at once, the second waits on the
            # row and then updates nothing, so the deltas are added exactly once
            claimed = conn.execute(self.table.update().where(self.table.c.batch_id == batch_id,
                                                             self.table.c.status == PREPARED)
                                   .values(status=DONE, finished_at=_utcnow())).rowcount
            if claimed != 1:
                return
            if deltas is None:
                deltas = Deltas.from_blob(conn.execute(sa.select(self.table.c.deltas)
                                                       .where(self.table.c.batch_id == batch_id)).scalar_one())
            apply_deltas(conn, self.store, deltas)

    def abandon(self, batch_id: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.batch_id == batch_id, self.table.c.status == PREPARED)
                         .values(status=ABANDONED, finished_at=_utcnow()))

    def pending(self) -> list:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.select(self.table).where(self.table.c.status == PREPARED)
                                     .order_by(self.table.c.created_at)))

    def done_totals(self, what: str = "aggregated") -> dict[str, int]:
        """Rows aggregated (or stripped, deleted…) per source table, as the done batches record them."""
        totals: dict[str, int] = defaultdict(int)
        with self.store.engine.connect() as conn:
            for (blob,) in conn.execute(sa.select(self.table.c.deltas).where(self.table.c.status == DONE)):
                for source, counts in Deltas.from_blob(blob).counts.items():
                    totals[source] += counts.get(what, 0)
        return {k: v for k, v in totals.items() if v}
