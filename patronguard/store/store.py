"""The pipeline's own database: run records and legal holds (more to come).

Opened with :func:`open_store`, which connects and applies pending
migrations. Nothing here ever holds a patron's name or contact details;
legal holds name the internal borrowernumber only.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import settings
from ..db import connect, masked
from .migrations import migrate


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class Store:
    """The store, its tables reflected after migration (migrations own the DDL)."""

    engine: Engine
    tables: dict[str, sa.Table]

    def __getitem__(self, name: str) -> sa.Table:
        return self.tables[name]

    @property
    def url(self) -> str:
        return masked(self.engine.url)

    def active_legal_holds(self) -> set[int]:
        """borrowernumbers under a legal hold that has not been released."""
        with self.engine.connect() as conn:
            holds = self["legal_holds"]
            rows = conn.execute(sa.select(holds.c.borrowernumber).where(holds.c.released_at.is_(None)))
            return {r[0] for r in rows}

    def record_run(self, *, kind: str, started_at: dt.datetime, as_of: dt.date, ils: str,
                   policy_library: str, policy_version: str, policy_sha256: str,
                   outcome: str, summary: dict) -> str:
        """Append one run record (counts only, never patron values); return its id."""
        run_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(self["pipeline_runs"].insert().values(
                run_id=run_id, kind=kind, started_at=started_at, finished_at=_utcnow(), as_of=as_of,
                ils=ils, policy_library=policy_library, policy_version=policy_version,
                policy_sha256=policy_sha256, outcome=outcome,
                summary_json=json.dumps(summary, sort_keys=True, default=str),
            ))
        return run_id

    def runs(self, kind: str | None = None) -> list[dict]:
        runs = self["pipeline_runs"]
        query = sa.select(runs).order_by(runs.c.started_at)
        if kind:
            query = query.where(runs.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


@contextmanager
def opened_store(url: str | None = None):
    """``open_store`` for one unit of work; the connections are closed afterwards."""
    store = open_store(url)
    try:
        yield store
    finally:
        store.engine.dispose()


def _durable_wal(engine: Engine) -> None:
    """The store's own SQLite file runs in WAL mode (cheaper commits, readers never block the
    nightly run) with synchronous=FULL: a ledger commit must survive a power cut, since the ILS
    commits right after it."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine, "connect")
    def _full_sync(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA synchronous=FULL")


def open_store(url: str | None = None) -> Store:
    """Connect to the store (creating a SQLite file if needed) and migrate it."""
    engine = connect(settings.store_url(url), option="--store", must_exist=False, create_dirs=True)
    if engine.dialect.name == "sqlite":
        _durable_wal(engine)
    migrate(engine)
    reflected = sa.MetaData()
    reflected.reflect(bind=engine)
    return Store(engine, dict(reflected.tables))
