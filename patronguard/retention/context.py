"""What every batch processor shares: the run's context and a few SQL helpers.

The floor under ``batches`` (per-table processors), ``patrons`` (expired-patron
removal) and ``children`` (rows that belong to other rows), so none of them
imports another's internals.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..store import Store
from .ledger import Ledger
from .scope import RowScope, row_scope

IN_CHUNK = 10_000
#: rows per ILS transaction unless told otherwise. Measured (benchmarks/retention_full.py, 1 M loans, SQLite):
#: stripping Koha's statistics in batches of 20,000 took 1.95x the single bare UPDATE, 100,000 1.42x — each
#: commit rewrites the patron index's pages the batch touched, and small batches touch the same pages
#: again and again. A batch's rows are read in chunks (``packedrows.row_chunks``), so memory does not grow
#: with it.
DEFAULT_BATCH_SIZE = 100_000


@dataclass
class RunContext:
    ils: Engine
    shape: IlsShape
    pii_map: PiiMap
    store: Store
    ledger: Ledger
    run_id: str
    legal_holds: frozenset[int]
    hash_key: bytes
    anonymous_value: int | None
    batch_size: int
    progress: Callable[[str], None]
    batch_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: table → the policy's action for its record class (how history goes when its patron is removed);
    #: ``aggregate_then_delete`` where a delete keeps statistics (set by ``aggdelete.use_policy_actions``)
    actions: dict[str, str] = field(default_factory=dict)
    #: the run's day: "today" for open transactions and current patrons (None: the database's date)
    as_of: dt.date | None = None

    @property
    def dialect(self) -> str:
        return self.shape.dialect

    def scope(self, name: str) -> RowScope:
        return row_scope(name, self.shape, self.pii_map, self.legal_holds, self.notes, self.as_of)

    def lock(self, query: sa.Select, table: sa.Table) -> sa.Select:
        """Row locks on servers; SQLite's write transaction (BEGIN IMMEDIATE) already excludes writers."""
        if self.dialect == "postgresql":
            return query.with_for_update(of=table)
        if self.dialect in ("mysql", "mariadb"):
            return query.with_for_update()
        return query


def driver_rows(conn: Connection, statement: sa.Select) -> list[tuple]:
    """All rows as the driver's plain tuples: no Row objects for what can be a million rows.
    Only for results made of text, numbers and dates, which need no SQLAlchemy processing."""
    result = conn.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def chunks(values: list, size: int = IN_CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def in_list(column: sa.ColumnElement, values: list) -> sa.ColumnElement[bool]:
    return sa.or_(*(column.in_(chunk) for chunk in chunks(values))) if values else sa.false()
