"""One acting run at a time per ILS and per store: the run lock.

A retention run, a confirmed purge and the acting part of the nightly flow
hold :func:`run_lock` for their whole duration. It takes, in this order (the
same order everywhere, so two runs cannot deadlock):

* the **store** lock, so two runs sharing one store (even against different
  ILS copies) never interleave ledger recovery;
* the **ILS** lock, so two runs against one ILS through different stores never
  strip the same rows.

Per database: PostgreSQL ``pg_try_advisory_lock`` on a 63-bit key derived
from a stable name (advisory locks are per database); MariaDB
``GET_LOCK(name, timeout)`` (server-wide, so the name carries the database);
SQLite an exclusive ``fcntl.flock`` on a lock file next to the database file
(``<file>.patronguard-lock``; never a table in the ILS). Server locks live on
a dedicated autocommit connection and go away with it, so a killed run never
leaves a stale lock behind.

The holder (what, run id, host, pid, start time; never patron data) is written
under the lock to the store (``store_settings`` row ``run_lock_holder``) and
into SQLite lock files; on PostgreSQL the lock connection's
``application_name`` says it too. A second run waits up to ``wait`` seconds,
then raises :class:`RunLockBusyError` (transient: Prefect may retry; exit code
3 on the CLI) with one line naming the holder.

The invariant recovery relies on: a run holding the store lock is the only
live run on that store, so every other run's prepared batch is a dead run's.
:func:`live_run_id` tells anyone (holder or not) which run is alive.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import masked, sqlite_path
from ..errors import TransientError
from ..store import Store

DEFAULT_LOCK_WAIT = 5.0
HOLDER_SETTING = "run_lock_holder"
LOCK_SUFFIX = ".patronguard-lock"
_POLL = 0.2


class RunLockBusyError(TransientError):
    """Another patronguard run holds the run lock of this ILS or store."""


@dataclass
class Holder:
    what: str
    run_id: str
    host: str = field(default_factory=lambda: socket.gethostname()[:64])
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    def describe(self) -> str:
        return f"{self.what} {self.run_id} (host {self.host}, pid {self.pid}, started {self.started})"


def _holder_from(text: str | None) -> Holder | None:
    try:
        data = json.loads(text or "")
        return Holder(**{k: data[k] for k in ("what", "run_id", "host", "pid", "started")})
    except (ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------- one lock on one database
def _lock_name(engine: Engine, role: str) -> str:
    """A stable name: the role and the database's own name (MariaDB locks are server-wide)."""
    database = engine.url.database
    name = f"patronguard:{role}:{database}"
    return name if len(name) <= 64 else f"patronguard:{role}:{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def _pg_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") & (2**63 - 1)


class _Lock:
    """The lock of one database (``role``: "store" or "ils"); ``acquire`` polls until ``deadline``."""

    def __init__(self, engine: Engine, role: str, holder: Holder):
        self.engine, self.role, self.holder = engine, role, holder
        self.dialect = engine.dialect.name
        self.name = _lock_name(engine, role)
        self.path = _lock_path(engine)
        self.conn: Connection | None = None
        self.fd: int | None = None

    @property
    def local(self) -> bool:
        return self.dialect == "sqlite"

    def acquire(self, deadline: float) -> bool:
        while True:
            if self._try():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)

    def _try(self) -> bool:
        if self.dialect == "sqlite":
            if self.path is None:  # :memory: — private to this process anyway
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, self.holder.to_json().encode())
            os.fsync(fd)
            self.fd = fd
            return True
        if self.conn is None:
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql":
                label = f"patronguard {self.holder.run_id[:8]} pid {self.holder.pid}@{self.holder.host}"[:63]
                self.conn.execute(sa.text("SELECT set_config('application_name', :n, false)"), {"n": label})
        if self.dialect == "postgresql":
            got = self.conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _pg_key(self.name)}).scalar()
        else:
            got = self.conn.execute(sa.text("SELECT GET_LOCK(:n, 0)"), {"n": self.name}).scalar()
        return bool(got)

    def still_held(self) -> bool:
        """True if this lock's connection is alive (a server may drop it, and the lock with it)."""
        if self.conn is None:
            return True
        try:
            self.conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            self._close()
            return False

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            finally:
                os.close(self.fd)  # closing the descriptor drops the flock
                self.fd = None
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                if self.conn.invalidated:
                    pass  # the server dropped the connection, and the lock went with it
                elif self.dialect == "postgresql":
                    self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _pg_key(self.name)})
                else:
                    self.conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})
            except sa.exc.SQLAlchemyError:
                pass  # the connection is gone, and the lock went with it
            finally:
                try:
                    self.conn.close()
                except sa.exc.SQLAlchemyError:
                    pass
                self.conn = None

    def held_by_someone(self) -> bool:
        """Whether anyone (this process included) holds this lock now, without taking it."""
        if self.dialect == "sqlite":
            if self.path is None or not self.path.exists():
                return False
            fd = os.open(self.path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return False
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
        with self.engine.connect() as conn:
            return self._holder_backend(conn) is not None

    def _holder_backend(self, conn: Connection):
        """The server session holding this lock (PostgreSQL pid, MariaDB connection id), or None."""
        if self.dialect == "postgresql":
            key = _pg_key(self.name)
            return conn.execute(sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid::bigint = :hi AND objid::bigint = :lo"),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar()
        return conn.execute(sa.text("SELECT IS_USED_LOCK(:n)"), {"n": self.name}).scalar()

    def who(self, store: Store) -> str:
        """One phrase naming the holder, as best this database can tell."""
        if self.role == "store":
            # the holder records itself just after it takes the lock: give it a moment before
            # falling back to what the database alone can tell
            for _ in range(HOLDER_POLLS):
                found = read_holder(store)
                if found:
                    return found.describe()
                time.sleep(HOLDER_POLL_SECONDS)
        if self.dialect == "sqlite":
            try:
                found = _holder_from(self.path.read_text()) if self.path else None
            except OSError:
                found = None
            return found.describe() if found else "another process (no holder recorded yet)"
        try:
            with self.engine.connect() as conn:
                session = self._holder_backend(conn)
                if session is None:
                    return "another run that has just finished"
                if self.dialect == "postgresql":
                    row = conn.execute(sa.text("SELECT application_name, client_addr, backend_start "
                                               "FROM pg_stat_activity WHERE pid = :p"), {"p": session}).first()
                    if row is not None:
                        return (f"{row.application_name or 'a session'} (server pid {session}, client "
                                f"{row.client_addr or 'local'}, session started {row.backend_start:%Y-%m-%d %H:%M:%S %Z})")
                    return f"server pid {session}"
                row = conn.execute(sa.text("SELECT host FROM information_schema.PROCESSLIST WHERE id = :i"),
                                   {"i": session}).first()
                return f"MariaDB connection {session}" + (f" from {row.host}" if row else "")
        except sa.exc.SQLAlchemyError:
            return "another process"


def _lock_path(engine: Engine) -> Path | None:
    path = sqlite_path(engine.url)
    return None if path is None else path.with_name(path.name + LOCK_SUFFIX)


# ----------------------------------------------------------------------------- holder record in the store
#: how often, and how far apart, a refused run looks for the holder's record before describing it otherwise
HOLDER_POLLS, HOLDER_POLL_SECONDS = 20, 0.1


def read_holder(store: Store) -> Holder | None:
    table = store["store_settings"]
    with store.engine.connect() as conn:
        return _holder_from(conn.execute(sa.select(table.c.value).where(table.c.name == HOLDER_SETTING)).scalar())


def _write_holder(store: Store, holder: Holder | None, only_if: str | None = None) -> None:
    table = store["store_settings"]
    with store.engine.begin() as conn:
        if only_if is not None:
            current = _holder_from(conn.execute(sa.select(table.c.value)
                                                .where(table.c.name == HOLDER_SETTING)).scalar())
            if current is None or current.run_id != only_if:
                return
        conn.execute(table.delete().where(table.c.name == HOLDER_SETTING))
        if holder is not None:
            conn.execute(table.insert().values(name=HOLDER_SETTING, value=holder.to_json()[:255]))


def live_run_id(store: Store) -> str | None:
    """The run id of the run holding this store's lock now (alive by definition), or None if nobody does.

    "?" if the lock is held but its holder has not recorded itself yet (it has prepared nothing then)."""
    probe = _Lock(store.engine, "store", Holder("probe", "-"))
    if not probe.held_by_someone():
        return None
    found = read_holder(store)
    return found.run_id if found else "?"


# ----------------------------------------------------------------------------- the context manager
class RunLock:
    """What :func:`run_lock` yields: the holder, and :meth:`ensure` to re-check between steps."""

    def __init__(self, locks: list[_Lock], holder: Holder, store: Store, wait: float):
        self.locks, self.holder, self.store, self.wait = locks, holder, store, wait

    @property
    def run_id(self) -> str:
        return self.holder.run_id

    def ensure(self) -> None:
        """Re-take any server lock whose connection was dropped (the lock went with it); a run that
        cannot have it back stops with :class:`RunLockBusyError`."""
        for lock in self.locks:
            if not lock.still_held() and not lock.acquire(time.monotonic() + self.wait):
                raise _busy(lock, self.holder, self.store, self.wait)


def _busy(lock: _Lock, holder: Holder, store: Store, wait: float) -> RunLockBusyError:
    where = "store" if lock.role == "store" else "ILS"
    url = masked(lock.engine.url)
    return RunLockBusyError(
        f"{holder.what}: another patronguard run holds the run lock of the {where} {url}: {lock.who(store)}; "
        f"gave up after waiting {wait:g}s (it will be free when that run ends; rerun then, or raise --lock-wait)")


@contextmanager
def run_lock(ils: Engine, store: Store, *, run_id: str, what: str = "retention run",
             wait: float = DEFAULT_LOCK_WAIT, progress: Callable[[str], None] | None = None) -> Iterator[RunLock]:
    """Hold the run lock of ``store`` and of ``ils`` (waiting up to ``wait`` seconds for each) for the block."""
    say = progress or (lambda _m: None)
    holder = Holder(what=what, run_id=run_id)
    deadline = time.monotonic() + max(0.0, wait)
    taken: list[_Lock] = []
    try:
        for lock in (_Lock(store.engine, "store", holder), _Lock(ils, "ils", holder)):
            if lock.engine.url == store.engine.url and lock.role == "ils" and lock.local:
                continue  # a SQLite ILS file that is also the store: one file lock is enough
            try:
                got = lock._try()
                if not got:
                    if wait > 0:
                        say(f"waiting up to {wait:g}s for the run lock of the {lock.role} "
                            f"({lock.who(store)} holds it)")
                    got = lock.acquire(deadline)
                busy = None if got else _busy(lock, holder, store, wait)
            except BaseException:
                lock.release()
                raise
            if busy is not None:
                lock.release()  # closes its connection; it never held the lock
                raise busy
            taken.append(lock)
        _write_holder(store, holder)
        yield RunLock(taken, holder, store, wait)
    finally:
        if taken:
            try:
                _write_holder(store, None, only_if=run_id)
            except sa.exc.SQLAlchemyError:
                pass
        for lock in reversed(taken):
            lock.release()




@contextmanager
def run_lock_for_urls(ils_url: str | None, store_url: str | None, *, run_id: str, what: str,
                      wait: float = DEFAULT_LOCK_WAIT,
                      progress: Callable[[str], None] | None = None) -> Iterator[RunLock]:
    """:func:`run_lock` on connections of its own (for a flow, whose tasks open theirs)."""
    from .. import settings
    from ..db import connect
    from ..store import opened_store

    engine = connect(settings.ils_url(ils_url), option="--db", must_exist=True)
    try:
        with opened_store(store_url) as store, run_lock(engine, store, run_id=run_id, what=what, wait=wait,
                                                         progress=progress) as lock:
            yield lock
    finally:
        engine.dispose()


__all__ = ["DEFAULT_LOCK_WAIT", "Holder", "RunLock", "RunLockBusyError", "live_run_id", "read_holder", "run_lock",
           "run_lock_for_urls"]
