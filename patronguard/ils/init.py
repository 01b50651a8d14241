"""``patronguard ils init``: create the Koha tables and fill them with a synthetic library.

All or nothing: the existing-table check happens before anything is
written, the synthetic models are drawn before the first write, and the
load runs in one transaction. On SQLite and PostgreSQL (transactional DDL)
the drop/create/load is a single transaction, so a failure leaves the
database exactly as it was — with ``replace``, the previous tables are still
there. On MariaDB, DDL commits implicitly: a failure drops every Koha table
the run created, so the database is left without Koha tables (with
``replace``, the previous ones are already gone) rather than half-filled.

Secondary indexes are created after the rows are loaded (faster than
maintaining them row by row). On SQLite the load runs with
``synchronous=OFF`` and a large page cache on that connection only; the
connection's previous settings are restored afterwards (the journal mode is
left as it was).
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

from ..db import connect, masked
from ..errors import DatabaseUnavailableError, IlsAlreadyInitialisedError, InputError
from .generate import LibrarySpec, generate_library
from .schema import KOHA_TABLES, metadata

#: Tables whose ids are shared with their history table (Koha moves the row).
_SHARED_IDS = {"issues": ("issue_id", "old_issues"), "reserves": ("reserve_id", "old_reserves")}
_SQLITE_LOAD = {"synchronous": "OFF", "cache_size": "-262144", "temp_store": "MEMORY"}


def init_ils(url: str, spec: LibrarySpec, *, replace: bool = False,
             progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Create Koha's patron-data tables at ``url`` and load the library ``spec`` describes.

    Returns the number of rows loaded per table (every table of
    :data:`~patronguard.ils.schema.KOHA_TABLES`). Raises
    :class:`IlsAlreadyInitialisedError` before writing anything if a Koha
    table exists and ``replace`` is False; with ``replace`` the Koha tables
    (only those) are dropped and regenerated. ``progress`` receives short
    human-readable lines as tables are loaded.
    """
    if not isinstance(spec, LibrarySpec):
        raise InputError(f"init_ils needs a LibrarySpec, got {type(spec).__name__}")
    say = progress or (lambda line: None)
    engine = connect(url, option="--db", must_exist=False, create_dirs=True)
    try:
        before = _koha_tables(engine)
        if before and not replace:
            shown = ", ".join(before[:3]) + (", …" if len(before) > 3 else "")
            raise IlsAlreadyInitialisedError(
                f"--db {masked(url)} already has Koha tables ({shown}); "
                "pass --replace to drop and regenerate them")
        batches = generate_library(spec, dialect=engine.dialect.name)  # models drawn: nothing written yet
        try:
            counts = _load(engine, batches, replace=bool(before), say=say)
        except OperationalError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            raise DatabaseUnavailableError(f"--db {masked(url)}: loading the ILS failed: {reason}") from None
        return counts
    finally:
        engine.dispose()


def _koha_tables(engine: Engine) -> list[str]:
    present = set(sa.inspect(engine).get_table_names())
    found = [t for t in KOHA_TABLES if t in present]
    return sorted(found, key=lambda t: (t != "borrowers", KOHA_TABLES.index(t)))


def _load(engine: Engine, batches, *, replace: bool, say: Callable[[str], None]) -> dict[str, int]:
    dialect = engine.dialect
    sqlite = dialect.name == "sqlite"
    before = set(_koha_tables(engine))
    counts = {t: 0 for t in KOHA_TABLES}
    with engine.connect() as conn:
        saved = _sqlite_pragmas(conn, _SQLITE_LOAD) if sqlite else None
        try:
            if sqlite:
                conn.exec_driver_sql("BEGIN")  # DDL joins the transaction (pysqlite would autocommit it)
            if replace:
                metadata.drop_all(conn, checkfirst=True)
            for table in metadata.sorted_tables:
                conn.execute(CreateTable(table))
            _insert_all(conn, batches, counts, say)
            indexes = [ix for table in metadata.sorted_tables for ix in sorted(table.indexes, key=lambda i: i.name)]
            for index in indexes:
                index.create(conn)
            say(f"indexes: {len(indexes)} created")
            if sqlite:
                conn.exec_driver_sql("PRAGMA analysis_limit=400")
                conn.exec_driver_sql("ANALYZE")
            if dialect.name == "postgresql":
                _postgres_sequences(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            _clean_up(engine, before)
            raise
        finally:
            if saved:
                _sqlite_pragmas(conn, saved)
                conn.commit()
    if dialect.name in ("mysql", "mariadb"):
        _mysql_shared_ids(engine)
    return counts


def _insert_all(conn: Connection, batches, counts: dict[str, int], say: Callable[[str], None]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statements: dict[str, str] = {}
    for batch in batches:
        sql = statements.get(batch.table)
        if sql is None:
            sql = statements[batch.table] = (
                f"INSERT INTO {quote(batch.table)} ({', '.join(quote(c) for c in batch.columns)}) "
                f"VALUES ({', '.join([mark] * len(batch.columns))})")
        conn.exec_driver_sql(sql, batch.rows)
        counts[batch.table] += len(batch.rows)
        if batch.last:
            _report(batch.table, counts, say)


def _report(table: str, counts: dict[str, int], say: Callable[[str], None]) -> None:
    if table == "borrowers":
        return
    if table == "deletedborrowers":
        b, d = counts["borrowers"], counts["deletedborrowers"]
        say(f"patrons: {b + d:,} (borrowers {b:,}, deletedborrowers {d:,})")
    elif table == "issues":
        return
    elif table == "old_issues":
        i, o = counts["issues"], counts["old_issues"]
        say(f"loans: {i + o:,} (old_issues {o:,}, issues {i:,})")
    else:
        say(f"{table}: {counts[table]:,}")


def _sqlite_pragmas(conn: Connection, wanted: dict[str, str]) -> dict[str, str]:
    """Set connection-level pragmas; return their previous values."""
    previous = {}
    for name, value in wanted.items():
        previous[name] = str(conn.exec_driver_sql(f"PRAGMA {name}").scalar())
        conn.exec_driver_sql(f"PRAGMA {name}={value}")
    return previous


def _postgres_sequences(conn: Connection) -> None:
    """Explicit ids do not advance SERIAL sequences: move each past the largest id loaded."""
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sources = [table.name] + ([_SHARED_IDS[table.name][1]] if table.name in _SHARED_IDS else [])
        biggest = " , ".join(f"(SELECT max({column.name}) FROM {name})" for name in sources)
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
            f"coalesce(greatest({biggest}), 0) + 1, false)")


def _mysql_shared_ids(engine: Engine) -> None:
    """New issues/reserves must not reuse ids already in old_issues/old_reserves."""
    with engine.begin() as conn:
        for table, (column, history) in _SHARED_IDS.items():
            top = conn.exec_driver_sql(
                f"SELECT greatest(coalesce((SELECT max({column}) FROM {table}), 0), "
                f"coalesce((SELECT max({column}) FROM {history}), 0))").scalar()
            conn.exec_driver_sql(f"ALTER TABLE {table} AUTO_INCREMENT = {int(top) + 1}")


def _clean_up(engine: Engine, before: set[str]) -> None:
    """After a failed load: no half-filled ILS may remain.

    Where DDL is transactional the rollback restored the previous state and
    only tables that did not exist before are dropped (normally none). On
    MariaDB every Koha table now present was created (or re-created) by
    this run and is dropped.
    """
    transactional = engine.dialect.name in ("sqlite", "postgresql")
    present = set(_koha_tables(engine))
    doomed = present - before if transactional else present
    if doomed:
        tables = [t for t in metadata.sorted_tables if t.name in doomed]
        metadata.drop_all(engine, tables=tables, checkfirst=True)
