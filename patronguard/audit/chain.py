"""The store's audit log: a hash chain whose entries are authenticated with a key kept outside the store.

Each entry of ``audit_events(seq, at, kind, payload, prev_hash, entry_hash,
entry_mac)`` holds counts, dates, policy versions, clause ids, request hashes
and keyed hashes of patron ids (:func:`hashed_patron`) — never a patron value
(:func:`append_event` refuses payload keys such as ``borrowernumber``).

* ``entry_hash = SHA-256(canonical JSON of [seq, at, kind, payload, prev_hash])``
  chains every entry to the one before: an entry edited, deleted, inserted or
  moved breaks the chain at the first entry affected.
* ``entry_mac = BLAKE2b-256(entry_hash, key=audit MAC key)``: the chain alone
  can be recomputed by anyone who can write to the store, so an edit followed
  by re-hashing every later entry, or a forged entry appended at the end, would
  pass. The MAC key is derived from the patron-hash key
  (:func:`patronguard.keys.patron_hash_key`, kept outside the store), so
  such a rewrite fails at the first forged entry. Entries written before the
  MAC column existed (migration 3) are accepted as *legacy* only while no
  authenticated entry precedes them, and only as many as the log's pin (or
  first checkpoint) counted: the column itself, and a MAC on every later
  entry, are required (:mod:`patronguard.audit.pin`).

Truncation (the last entries deleted) leaves a valid chain behind; it is caught
by checkpoints kept outside the store — see :mod:`patronguard.audit.log`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..errors import TerminalError
from ..keys import patron_hash_key
from .hashing import (  # noqa: F401 (re-exported: how an entry is hashed is part of the chain's interface)
    GENESIS, at_iso, audit_mac_key, canonical, canonical_fast, entry_hash, entry_mac,
)
from .scan import scan_entries

#: Payload keys that would hold a patron value; use :func:`hashed_patron` instead.
FORBIDDEN_PAYLOAD_KEYS = frozenset({
    "borrowernumber", "cardnumber", "surname", "firstname", "othernames", "email", "emailpro", "phone",
    "mobile", "phonepro", "address", "address2", "dateofbirth", "userid", "password", "patron_name",
})


class AuditPayloadError(TerminalError):
    """An audit payload would carry a patron value."""


def hashed_patron(borrowernumber: int | str) -> str:
    """A keyed hash of a patron id for audit payloads: stable, not reversible without the key."""
    return hashlib.blake2b(str(int(borrowernumber)).encode(), key=patron_hash_key(), digest_size=16,
                           person=b"pg-audit-patron").hexdigest()


def _check_payload(value, path: str = "payload") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in FORBIDDEN_PAYLOAD_KEYS and item not in (None, ""):   # null carries nothing
                raise AuditPayloadError(f"{path}.{key}: an audit payload must not carry a patron value; "
                                        "record hashed_patron(borrowernumber) as patron_hash instead")
            _check_payload(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_payload(item, f"{path}[{index}]")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    kind: str
    payload: dict
    entry_hash: str


def append_event(conn: Connection, table: sa.Table, kind: str, payload: dict, *, attempts: int = 5) -> AuditEntry:
    """Append one event in the caller's transaction; retries if another writer took the sequence number.

    After the caller commits, :func:`patronguard.audit.checkpoint` anchors the new head outside the
    store (:func:`patronguard.audit.record_event` does both).
    """
    if not isinstance(kind, str) or not kind or len(kind) > 40:
        raise AuditPayloadError(f"audit event kind {kind!r}: expected 1-40 characters")
    _check_payload(payload)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    key = audit_mac_key() if "entry_mac" in table.c else None
    for _ in range(attempts):
        last = conn.execute(sa.select(table.c.seq, table.c.entry_hash).order_by(table.c.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        # whole seconds: MariaDB's DATETIME drops fractions, which would break the hash there
        at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        digest = entry_hash(seq, at, kind, text, prev)
        values = dict(seq=seq, at=at, kind=kind, payload=text, prev_hash=prev, entry_hash=digest)
        if key is not None:
            values["entry_mac"] = entry_mac(key, digest)
        try:
            with conn.begin_nested():
                conn.execute(table.insert().values(**values))
        except IntegrityError:
            continue
        return AuditEntry(seq, at, kind, payload, digest)
    raise RuntimeError("could not append to the audit log: sequence contention")


def verify_chain(conn: Connection, table: sa.Table) -> int | None:
    """The sequence number of the first bad entry, or None if the chain (and its MACs) is intact.

    This does not detect truncation; :func:`patronguard.audit.verify_log` does.
    """
    return scan_entries(conn, table).first_bad_seq
