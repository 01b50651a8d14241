"""Database URLs and engines for the ILS and the store.

Supported: ``sqlite:///PATH`` (default), ``mysql+pymysql://`` (Koha on
MariaDB/MySQL) and ``postgresql+psycopg://`` (Evergreen on PostgreSQL).
Connection failures become :class:`DatabaseUnavailableError` (transient);
a bad scheme becomes :class:`DatabaseUrlError` (terminal). URLs are shown
with the password masked.

An ILS on SQLite whose path holds characters a URL cannot carry as they are
(a space, ``#``, ``?``, ``%``, non-ASCII) is opened through SQLite's URI form,
``sqlite:///file:/path/with%20space/ils.db?uri=true``, so every tool that is
handed the engine's URL (the data-quality suites re-parse it) reaches the same
file; :func:`sqlite_path` reads both forms back to the file's path.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from .errors import DatabaseUnavailableError, DatabaseUrlError

SUPPORTED_SCHEMES = {
    "sqlite": "sqlite:///PATH",
    "sqlite+pysqlite": "sqlite:///PATH",
    "mysql+pymysql": "mysql+pymysql://USER:PASSWORD@HOST:3306/DB",
    "mariadb+pymysql": "mariadb+pymysql://USER:PASSWORD@HOST:3306/DB",
    "postgresql+psycopg": "postgresql+psycopg://USER@HOST:5432/DB",
}
_EXPECTED = "sqlite:///PATH, mysql+pymysql://USER@HOST/DB or postgresql+psycopg://USER@HOST/DB"


def parse_url(url: str, *, option: str = "--db") -> URL:
    """Parse and check a database URL; raise DatabaseUrlError naming the option."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"{option}: cannot parse database URL {url!r}; expected {_EXPECTED}") from None
    if parsed.drivername not in SUPPORTED_SCHEMES:
        raise DatabaseUrlError(
            f"{option}: unsupported database URL scheme {parsed.drivername!r}; expected {_EXPECTED}"
        )
    if parsed.drivername.startswith("sqlite") and not parsed.database:
        raise DatabaseUrlError(f"{option}: SQLite URL needs a file path, e.g. sqlite:///var/ils.db")
    return parsed


def masked(url: str | URL) -> str:
    """The URL as text with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


#: characters a SQLite file path may hold and still be written into a URL as it is
_URL_SAFE_PATH = re.compile(r"[A-Za-z0-9._~/+-]*")


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (plain or ``file:…?uri=true``), or None for other dialects and :memory:."""
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    database = url.database
    if database.startswith("file:") and str(url.query.get("uri", "")).lower() in ("true", "1"):
        rest = database[len("file:"):].split("?", 1)[0]
        if rest.startswith("//"):  # file:///abs or file://localhost/abs
            rest = "/" + rest[2:].split("/", 1)[1] if "/" in rest[2:] else rest[2:]
        return Path(unquote(rest))
    return Path(database)


def _uri_form(parsed: URL, path: Path) -> URL:
    """``sqlite:///file:<percent-encoded absolute path>?uri=true``: the same file, a URL any tool can re-parse."""
    return parsed.set(database=f"file:{quote(str(path.absolute()))}", query={**parsed.query, "uri": "true"})


def connect(url: str, *, option: str = "--db", must_exist: bool = True, create_dirs: bool = False,
            write: bool = False) -> Engine:
    """Create an engine and prove it connects.

    ``must_exist`` refuses a SQLite file that is not there (SQLite would
    silently create an empty one); ``create_dirs`` makes its folder. With
    ``write``, SQLite transactions start with BEGIN IMMEDIATE, so a batch's
    reads and writes happen under one write lock.
    """
    parsed = parse_url(url, option=option)
    path = sqlite_path(parsed)
    if path is not None:
        if must_exist and not path.exists():
            raise DatabaseUrlError(f"{option}: SQLite database file {path} does not exist")
        if create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        if option == "--db" and not _URL_SAFE_PATH.fullmatch(str(path)):
            parsed = _uri_form(parsed, path)  # the ILS URL is handed to the data-quality suites
    kwargs: dict = {"future": True, "hide_parameters": True}  # never echo row values in errors
    if parsed.drivername.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        if parsed.drivername.endswith("pymysql"):
            kwargs["connect_args"] = {"connect_timeout": 10, "charset": "utf8mb4"}
        else:
            kwargs["connect_args"] = {"connect_timeout": 10}
    engine = sa.create_engine(parsed, **kwargs)
    if write and parsed.drivername.startswith("sqlite"):
        _immediate_transactions(engine)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        raise DatabaseUnavailableError(f"{option}: cannot connect to {masked(parsed)}: {reason}") from None
    return engine


def _immediate_transactions(engine: Engine) -> None:
    """SQLAlchemy's recipe: let SQLAlchemy, not pysqlite, begin transactions, as BEGIN IMMEDIATE."""

    @sa.event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
