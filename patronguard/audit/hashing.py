"""How one audit entry is hashed and authenticated — the floor under the chain (:mod:`.chain`, which appends
entries) and the scan (:mod:`.scan`, which checks them).

``entry_hash = SHA-256(canonical JSON of [seq, at, kind, payload, prev_hash])``; ``entry_mac =
BLAKE2b-256(entry_hash, key=audit MAC key)``, the key derived from the patron-hash key
(:func:`patronguard.keys.patron_hash_key`, kept outside the store).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from json.encoder import encode_basestring as _json_str  # what json.dumps(..., ensure_ascii=False) uses

from ..keys import patron_hash_key

GENESIS = "0" * 64


def canonical(seq: int, at: dt.datetime, kind: str, payload: str, prev_hash: str) -> bytes:
    return json.dumps([seq, at.isoformat(timespec="microseconds"), kind, payload, prev_hash],
                      separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(seq: int, at: dt.datetime, kind: str, payload: str, prev_hash: str) -> str:
    return hashlib.sha256(canonical(seq, at, kind, payload, prev_hash)).hexdigest()


def canonical_fast(seq: int, at_iso: str, kind: str, payload: str, prev_hash: str) -> bytes:
    """Byte-identical to :func:`canonical` given ``at_iso = at.isoformat(timespec="microseconds")``."""
    return f"[{int(seq)},{_json_str(at_iso)},{_json_str(kind)},{_json_str(payload)},{_json_str(prev_hash)}]".encode()


@functools.lru_cache(maxsize=4)
def _derive_mac_key(patron_key: bytes) -> bytes:
    return hashlib.blake2b(b"patronguard audit-log MAC key v1", key=patron_key, digest_size=32).digest()


def audit_mac_key() -> bytes:
    """The audit log's MAC key, derived from the patron-hash key (never stored)."""
    return _derive_mac_key(patron_hash_key())


def entry_mac(key: bytes, entry_hash_hex: str) -> str:
    return hashlib.blake2b(bytes.fromhex(entry_hash_hex), key=key, digest_size=32,
                           person=b"pg-audit-entry").hexdigest()


def at_iso(value) -> str:
    """``at`` as the chain hashed it (``isoformat(timespec="microseconds")``), from any driver's value."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":   # SQLAlchemy's SQLite storage format
            return value[:10] + "T" + value[11:]
        value = dt.datetime.fromisoformat(value)
    return value.isoformat(timespec="microseconds")
