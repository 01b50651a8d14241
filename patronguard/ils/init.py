"""``patronguard ils init``: create the Koha tables of a release line and fill them with a synthetic library.

``koha_version`` picks the release line (``19.11`` … ``current``, see
:mod:`.release`): its tables and columns come from the line's facts
(:mod:`.line_schema`), ``systempreferences.Version`` states the line's
version, and the rows are the same library in that line's columns
(:mod:`.generate_lines`).

All or nothing: the existing-table check happens before anything is
written, the synthetic models are drawn before the first write, and the
load runs in one transaction. On SQLite and PostgreSQL (transactional DDL)
the drop/create/load is a single transaction, so a failure leaves the
database exactly as it was — with ``replace``, the previous tables are still
there. On MariaDB, DDL commits implicitly: a failure drops every Koha table
the run created, so the database is left without Koha tables (with
``replace``, the previous ones are already gone) rather than half-filled.
"Koha tables" are those some supported line has: ``replace`` drops exactly
those present (whatever line they are of), nothing else.

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

from ..db import connect, masked, parse_url, sqlite_path
from ..errors import DatabaseUnavailableError, IlsAlreadyInitialisedError, InputError
from ..outputs import DATABASE_SUFFIXES, check_folder, is_sqlite_file
from .generate import LibrarySpec, generate_library
from .line_schema import DEFAULT_LINE, check_line, known_tables, line_metadata

#: Tables that make a database patronguard's store (``ils init`` never writes Koha tables into one)
_STORE_TABLES = {"schema_migrations", "store_settings", "audit_events", "retention_batches"}
#: Tables whose ids are shared with their history table (Koha moves the row).
_SHARED_IDS = {"issues": ("issue_id", "old_issues"), "reserves": ("reserve_id", "old_reserves")}
_SQLITE_LOAD = {"synchronous": "OFF", "cache_size": "-262144", "temp_store": "MEMORY"}
#: Tables reported one by one while loading; the others are summed up in one line.
_REPORTED = {"borrowers", "deletedborrowers", "borrower_relationships", "borrower_attributes",
             "borrower_modifications", "biblio", "items", "issues", "old_issues", "reserves", "old_reserves",
             "statistics", "accountlines", "action_logs", "message_queue", "items_last_borrower", "search_history"}


def init_ils(url: str, spec: LibrarySpec, *, replace: bool = False,
             progress: Callable[[str], None] | None = None, koha_version: str = DEFAULT_LINE) -> dict[str, int]:
    """Create the tables of Koha release line ``koha_version`` at ``url`` and load the library ``spec``
    describes.

    Returns the number of rows loaded per table (every table of the line,
    see :func:`~patronguard.ils.line_schema.line_tables`). Raises
    :class:`InputError` for a line that is not supported, and
    :class:`IlsAlreadyInitialisedError` before writing anything if a Koha
    table exists and ``replace`` is False; with ``replace`` the Koha tables
    (only those) are dropped and regenerated. ``progress`` receives short
    human-readable lines as tables are loaded.
    """
    if not isinstance(spec, LibrarySpec):
        raise InputError(f"init_ils needs a LibrarySpec, got {type(spec).__name__}")
    line = check_line(koha_version)
    say = progress or (lambda text: None)
    _check_target(url)
    engine = connect(url, option="--db", must_exist=False, create_dirs=True)
    try:
        present = set(sa.inspect(engine).get_table_names())
        if len(present & _STORE_TABLES) >= 2:
            raise InputError(f"--db {masked(url)} is a patronguard store, not an ILS; "
                             "refusing to write Koha tables into it")
        before = _koha_tables(engine)
        if before and not replace:
            shown = ", ".join(before[:3]) + (", …" if len(before) > 3 else "")
            raise IlsAlreadyInitialisedError(
                f"--db {masked(url)} already has Koha tables ({shown}); "
                "pass --replace to drop and regenerate them")
        # spoken at once: drawing the library takes seconds before its first table is loaded
        say(f"building {spec.patrons:,} patrons and {spec.loans:,} loans into {masked(url)} "
            f"(Koha release line {line}); a line per table as it is loaded")
        # models drawn: nothing written yet
        batches = generate_library(spec, dialect=engine.dialect.name, koha_version=line)
        try:
            counts = _load(engine, line_metadata(line), batches, replace=bool(before), say=say)
        except OperationalError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            raise DatabaseUnavailableError(f"--db {masked(url)}: loading the ILS failed: {reason}") from None
        return counts
    finally:
        engine.dispose()


def _check_target(url: str) -> None:
    """A SQLite ``--db`` must be a SQLite database or not exist yet: never a directory, a device or
    some other file (SQLite would write its pages over an empty one)."""
    path = sqlite_path(parse_url(url, option="--db"))
    if path is None:
        return
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise InputError(f"--db {masked(url)}: {path} is not a regular file; refusing to write to it")
        if path.stat().st_size and not is_sqlite_file(path):
            raise InputError(f"--db {masked(url)}: {path} exists and is not a SQLite database; "
                             "refusing to write to it")
        if not path.stat().st_size and path.suffix.lower() not in DATABASE_SUFFIXES:
            raise InputError(f"--db {masked(url)}: {path} is an existing empty file not named like a "
                             "database (.db, .sqlite); refusing to write to it")
    check_folder(path.parent, "--db")


def _koha_tables(engine: Engine | Connection) -> list[str]:
    """The Koha tables (of any supported line) present, borrowers first."""
    present = set(sa.inspect(engine).get_table_names())
    return [t for t in known_tables() if t in present]


def _drop(bind: Engine | Connection, names: list[str]) -> None:
    """Drop these Koha tables, borrowers (the parent of every foreign key they have) last.

    MariaDB and PostgreSQL drop them in one statement; a table outside them that still
    refers to one of them makes the drop fail rather than lose its foreign key."""
    if not names:
        return
    quote = bind.dialect.identifier_preparer.quote
    ordered = sorted(names, key=lambda t: t == "borrowers")
    with bind.connect() if isinstance(bind, Engine) else _same(bind) as conn:
        if conn.dialect.name == "sqlite":
            for name in ordered:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
        else:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {', '.join(quote(n) for n in ordered)}")
        if isinstance(bind, Engine):
            conn.commit()


class _same:
    """``with`` on a connection that is already open (and stays open)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        return None


def _load(engine: Engine, metadata: sa.MetaData, batches, *, replace: bool,
          say: Callable[[str], None]) -> dict[str, int]:
    dialect = engine.dialect
    sqlite = dialect.name == "sqlite"
    before = set(_koha_tables(engine))
    counts = {t.name: 0 for t in metadata.sorted_tables}
    with engine.connect() as conn:
        saved = _sqlite_pragmas(conn, _SQLITE_LOAD) if sqlite else None
        try:
            if sqlite:
                conn.exec_driver_sql("BEGIN")  # DDL joins the transaction (pysqlite would autocommit it)
            if replace:
                _drop(conn, _koha_tables(conn))
            for table in metadata.sorted_tables:
                conn.execute(CreateTable(table))
            _insert_all(conn, batches, counts, say)
            say(f"indexes: {_create_indexes(conn, metadata)} created")
            if sqlite:
                conn.exec_driver_sql("PRAGMA analysis_limit=400")
                conn.exec_driver_sql("ANALYZE")
            if dialect.name == "postgresql":
                _postgres_sequences(conn, metadata)
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


def _create_indexes(conn: Connection, metadata: sa.MetaData) -> int:
    """The secondary indexes, after the load. MariaDB gets one ALTER TABLE per table (each ALTER
    costs about as much as the whole small load) and keeps the index it made for each foreign key."""
    mysql = conn.dialect.name in ("mysql", "mariadb")
    quote = conn.dialect.identifier_preparer.quote
    made = 0
    for table in metadata.sorted_tables:
        indexes = [ix for ix in sorted(table.indexes, key=lambda i: i.name) if not (mysql and _on_foreign_key(ix))]
        if mysql and indexes:
            parts = [f"ADD {'UNIQUE ' if ix.unique else ''}INDEX {quote(ix.name)} "
                     f"({', '.join(quote(c.name) for c in ix.columns)})" for ix in indexes]
            conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} {', '.join(parts)}")
        else:
            for index in indexes:
                index.create(conn)
        made += len(indexes)
    return made


def _on_foreign_key(index: sa.Index) -> bool:
    """A one-column index on a foreign-key column: MariaDB made one when it created the key."""
    columns = list(index.columns)
    return not index.unique and len(columns) == 1 and bool(columns[0].foreign_keys)


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
        if batch.last and batch.table in _REPORTED:
            _report(batch.table, counts, say)
    others = [t for t in counts if t not in _REPORTED and t not in ("branches", "categories", "systempreferences")]
    filled = [t for t in others if counts[t]]
    say(f"other patron tables: {sum(counts[t] for t in others):,} rows in {len(filled)} of {len(others)} tables")


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


def _postgres_sequences(conn: Connection, metadata: sa.MetaData) -> None:
    """Explicit ids do not advance SERIAL sequences: move each past the largest id loaded."""
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sources = [table.name] + ([_SHARED_IDS[table.name][1]] if table.name in _SHARED_IDS else [])
        quote = conn.dialect.identifier_preparer.quote
        biggest = " , ".join(f"(SELECT max({quote(column.name)}) FROM {quote(name)})" for name in sources)
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{quote(table.name)}', '{column.name}'), "
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
    present = _koha_tables(engine)
    _drop(engine, [t for t in present if not transactional or t not in before])
