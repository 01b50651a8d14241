"""The store's audit log as a hash chain: each entry's hash covers the previous one.

Entries hold counts, dates, policy versions and hashes, batch ids — never a
patron value. Editing, deleting, reordering or truncating entries breaks the
chain at the first entry affected; :func:`verify_chain` names it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

GENESIS = "0" * 64


def canonical(seq: int, at: dt.datetime, kind: str, payload: str, prev_hash: str) -> bytes:
    return json.dumps([seq, at.isoformat(timespec="microseconds"), kind, payload, prev_hash],
                      separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(seq: int, at: dt.datetime, kind: str, payload: str, prev_hash: str) -> str:
    return hashlib.sha256(canonical(seq, at, kind, payload, prev_hash)).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    kind: str
    payload: dict
    entry_hash: str


def append_event(conn: Connection, table: sa.Table, kind: str, payload: dict, *, attempts: int = 5) -> AuditEntry:
    """Append one event in the caller's transaction; retries if another writer took the sequence number."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    for _ in range(attempts):
        last = conn.execute(sa.select(table.c.seq, table.c.entry_hash).order_by(table.c.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        digest = entry_hash(seq, at, kind, text, prev)
        try:
            with conn.begin_nested():
                conn.execute(table.insert().values(seq=seq, at=at, kind=kind, payload=text,
                                                   prev_hash=prev, entry_hash=digest))
        except IntegrityError:
            continue
        return AuditEntry(seq, at, kind, payload, digest)
    raise RuntimeError("could not append to the audit log: sequence contention")


def verify_chain(conn: Connection, table: sa.Table) -> int | None:
    """The sequence number of the first bad entry, or None if the chain is intact."""
    prev, expected_seq = GENESIS, 1
    for row in conn.execute(sa.select(table).order_by(table.c.seq)):
        at = row.at if isinstance(row.at, dt.datetime) else dt.datetime.fromisoformat(str(row.at))
        if row.seq != expected_seq or row.prev_hash != prev or \
                entry_hash(row.seq, at, row.kind, row.payload, row.prev_hash) != row.entry_hash:
            return row.seq
        prev, expected_seq = row.entry_hash, expected_seq + 1
    return None
