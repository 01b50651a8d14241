"""What must hold before a run writes anything, besides the ILS statements the plan rehearses.

* **The store is not the ILS** (:func:`require_separate_store`, before the
  store is opened — opening migrates it, which would create patronguard's
  tables inside the ILS): the two URLs are compared as locations (SQLite: the
  resolved file; servers: backend family, host, port and database), and a
  store database that already holds Koha's tables is refused too.
* **The audit log can be anchored** (:func:`require_audit_writable`): the
  run ends by checkpointing its audit event in ``var/audit`` and moving the
  log's pin in ``var/keys/audit``; both must be writable, and the store must
  name the pinned log with its entries since the last checkpoint intact
  (``audit.log.require_checkpointable``). A run that could not anchor its
  event must not start, or the ILS is changed and the change never audited.
* **The store accepts every write the run makes** (:func:`rehearse_store_writes`):
  a ledger row, the warehouse upserts, an audit entry and a run record,
  inside a transaction that is rolled back.
* A statement the database refused is named in one line
  (:func:`refused_statement`): its kind and table, and the driver's reason.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from .. import settings
from ..db import connect, masked, parse_url, sqlite_path
from ..errors import InputError, RunPlanError
from ..store import Store

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
KOHA_MARKERS = ("borrowers", "systempreferences")


# ----------------------------------------------------------------------------- store ≠ ILS
def _family(url: URL) -> str:
    backend = url.get_backend_name()
    return "mysql" if backend in ("mysql", "mariadb") else backend


def location(url: URL) -> tuple:
    """Where a database is: ("sqlite", resolved file) or (family, host, port, database)."""
    family = _family(url)
    if family == "sqlite":
        path = sqlite_path(url)
        return ("sqlite", str(path.resolve()) if path is not None else ":memory:")
    host = (url.host or "").lower()
    host = "localhost" if host in _LOCAL_HOSTS else host
    return (family, host, int(url.port or _DEFAULT_PORTS.get(family, 0)), url.database or "")


def same_database(a: URL, b: URL) -> bool:
    if location(a) == location(b):
        return location(a)[1] != ":memory:"
    pa, pb = sqlite_path(a), sqlite_path(b)
    if pa is not None and pb is not None and pa.exists() and pb.exists():
        return os.path.samefile(pa, pb)  # hard links, symlinked folders
    return False


def _koha_tables_in(url: URL) -> list[str]:
    """Koha's marker tables found in the database at ``url`` (nothing is created to look)."""
    path = sqlite_path(url)
    if _family(url) == "sqlite" and (path is None or not path.exists()):
        return []
    engine = connect(url.render_as_string(hide_password=False), option="--store", must_exist=True)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return [t for t in KOHA_MARKERS if t in names]


def require_separate_store(ils_url: str | None, store_url: str | None) -> None:
    """InputError (one line) if the store is the ILS's database or holds Koha's tables."""
    ils, store = parse_url(settings.ils_url(ils_url), option="--db"), \
        parse_url(settings.store_url(store_url), option="--store")
    if same_database(ils, store):
        raise InputError(f"--store: {masked(store)} is the ILS's own database ({masked(ils)}); patronguard's "
                         "store must be a database of its own (nothing was written)")
    found = _koha_tables_in(store)
    if len(found) == len(KOHA_MARKERS):
        raise InputError(f"--store: {masked(store)} holds Koha tables ({', '.join(found)}): it is an ILS, not "
                         "patronguard's store; give the store a database of its own (nothing was written)")


# ----------------------------------------------------------------------------- audit directories
def audit_directories() -> list[Path]:
    from ..audit.pin import pin_dir

    return [settings.var_dir() / "audit", pin_dir()]


def _probe(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".patronguard-probe-", delete=True) as handle:
        handle.write(b"probe")
        handle.flush()


def require_audit_writable(store: Store | None = None) -> None:
    """RunPlanError (one line) unless the run's audit checkpoint and pin can be written; with ``store``,
    AuditLogTamperedError if its log could not be checkpointed (another log than the pinned one, …)."""
    files: list[Path] = []
    if store is not None:
        from ..audit.log import audit_log_id, checkpoint_path, require_checkpointable

        require_checkpointable(store)
        with store.engine.connect() as conn:
            log_id = audit_log_id(conn, store.tables)
        files.append(checkpoint_path(log_id))
    for folder in audit_directories():
        try:
            _probe(folder)
        except OSError as exc:
            raise RunPlanError(f"the audit directory {folder} is not writable ({exc.strerror or exc}): the run "
                               "could not anchor its audit event there; nothing was written") from None
    for path in files:
        if path.exists():
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise RunPlanError(f"the audit checkpoint file {path} is not writable ({exc.strerror or exc}); "
                                   "nothing was written") from None


# ----------------------------------------------------------------------------- the store's writes
def rehearse_store_writes(store: Store, run_id: str) -> None:
    """Every kind of write the run makes to the store, rolled back; RunPlanError naming the refused one."""
    from ..audit import append_event
    from .ledger import Deltas, apply_deltas, pack_json

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    probe = Deltas()
    probe.circulation.append(("plan-rehearsal", "issue", "2000-01-01", "?", "?", "?", "?", "?", "?", 1, 0, "0"))
    probe.cells[("plan-rehearsal", "2000-01", "?", "?", "?")] = [1]
    probe.patrons_removed[(2000, "?", "?", "?", 2000)] = 1
    batches, runs = store["retention_batches"], store["pipeline_runs"]
    with store.engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.execute(batches.insert().values(
                batch_id=run_id, run_id=run_id, table_name="plan-rehearsal", action="rehearsal", scope="plan",
                status="prepared", row_count=0, scrubbed=0, selector=pack_json({}), deltas=probe.to_blob(),
                created_at=now))
            conn.execute(batches.update().where(batches.c.batch_id == run_id).values(status="done", finished_at=now))
            apply_deltas(conn, store, probe)
            append_event(conn, store["audit_events"], "plan-rehearsal", {"run_id": run_id})
            conn.execute(runs.insert().values(
                run_id=run_id, kind="plan-rehearsal", started_at=now, finished_at=now, as_of=now.date(), ils="-",
                policy_library="-", policy_version="-", policy_sha256="-", outcome="ok", summary_json="{}"))
        except sa.exc.DBAPIError as exc:
            kind, table = refused_statement(exc)
            raise RunPlanError(f"the store refused {kind} on {table} ({driver_reason(exc)}); the run could not "
                               "record its work there; nothing was written") from None
        finally:
            trans.rollback()


# ----------------------------------------------------------------------------- one line per refusal
_TARGET = {
    "UPDATE": re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?[`\"\[]?([\w.]+)", re.I),
    "DELETE": re.compile(r"^\s*DELETE\s+FROM\s+[`\"\[]?([\w.]+)", re.I),
    "INSERT": re.compile(r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[`\"\[]?([\w.]+)", re.I),
    "SELECT": re.compile(r"\bFROM\s+[`\"\[]?([\w.]+)", re.I),
}


def refused_statement(exc: sa.exc.DBAPIError) -> tuple[str, str]:
    """(statement kind, table) of the statement the database refused, from its SQL text."""
    sql = (exc.statement or "").strip()
    first = sql.split(None, 1)[0].upper() if sql else "statement"
    kind = first if first in _TARGET else "statement"
    found = _TARGET[kind].search(sql) if kind in _TARGET else None
    if kind == "SELECT" and re.search(r"\bFOR\s+UPDATE\b", sql, re.I):
        kind = "SELECT … FOR UPDATE (row lock)"
    return kind, (found.group(1).split(".")[-1] if found else "an unnamed table")


def driver_reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0][:200] if exc.orig else type(exc).__name__


__all__ = ["audit_directories", "location", "refused_statement", "rehearse_store_writes",
           "require_audit_writable", "require_separate_store", "same_database"]
