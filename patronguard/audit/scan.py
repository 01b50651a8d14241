"""Reading the audit log back: one streaming pass that checks every entry's sequence number, chain link, hash
and MAC, rebuilds the RFC 6962 tree, and compares the head at every checkpointed size.

Shared by the chain (:func:`patronguard.audit.chain.verify_chain`), the log's verification and checkpoints
(:mod:`.log`) and the re-pin (:mod:`.repin`); it sits below them and imports neither.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .checkpoints import Checkpoint, Head, frontier_root
from .hashing import GENESIS, at_iso, audit_mac_key, canonical_fast

_sha256 = hashlib.sha256
_blake2b = hashlib.blake2b


@dataclass
class ScanResult:
    first_bad_seq: int | None
    problem: str | None
    entries: int
    head_hash: str
    frontier: list[bytes]
    legacy: int
    checkpoints_matched: int = 0
    macs_checked: int = 0

    @property
    def root_hash(self) -> str:
        return frontier_root(self.frontier)


def scan_entries(conn: Connection, table: sa.Table, *, checkpoints: list[Checkpoint] = (),
                 mac_key: bytes | None = None, resume: Head | None = None,
                 legacy_limit: int | None = None) -> ScanResult:
    """Stream the log in order, checking sequence, links, hashes and MACs; compare heads at checkpoints.

    ``legacy_limit``: entries after this one must carry a MAC (the pinned or checkpointed count of
    pre-MAC entries); None accepts MAC-less entries until the first MAC'd one (no anchor to go by).
    """
    has_mac = "entry_mac" in table.c
    if has_mac and mac_key is None:
        mac_key = audit_mac_key()
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        by_size.setdefault(cp.tree_size, []).append(cp)
    columns = [table.c.seq, sa.type_coerce(table.c.at, sa.String), table.c.kind, table.c.payload,
               table.c.prev_hash, table.c.entry_hash]
    if has_mac:
        columns.append(table.c.entry_mac)
    stmt = sa.select(*columns).order_by(table.c.seq)
    if resume is not None:
        stmt = stmt.where(table.c.seq > resume.checkpoint.tree_size)
        prev, count, legacy = resume.checkpoint.head_hash, resume.checkpoint.tree_size, resume.checkpoint.legacy
        frontier = [bytes.fromhex(h) for h in resume.frontier]
    else:
        prev, count, legacy, frontier = GENESIS, 0, 0, []
    mac_seen = count > legacy
    last_anchor, matched, macs = count, 0, 0

    def bad(seq: int, problem: str) -> ScanResult:
        return ScanResult(seq, problem, count, prev, frontier, legacy, matched, macs)

    rows = conn.execution_options(stream_results=True, max_row_buffer=20_000).execute(stmt)
    for row in rows:
        seq, at, kind, payload, prev_hash, digest = row[0], row[1], row[2], row[3], row[4], row[5]
        expected = count + 1
        if seq != expected:
            if seq > expected:
                return bad(seq, f"entry {seq}: found where entry {expected} should be — entry {expected} "
                                "was deleted, or the entries were renumbered")
            return bad(seq, f"entry {seq}: out of order (expected entry {expected})")
        if prev_hash != prev:
            return bad(seq, f"entry {seq}: its prev_hash does not match entry {seq - 1}'s hash — an entry "
                            "was deleted, inserted or moved (reordered) here")
        try:
            computed = _sha256(canonical_fast(seq, at_iso(at), kind, payload, prev_hash)).hexdigest()
        except (TypeError, ValueError, AttributeError):
            computed = None
        if computed != digest:
            return bad(seq, f"entry {seq}: its content does not match its hash — the entry was edited")
        if has_mac:
            mac = row[6]
            if mac is None:
                if mac_seen:
                    return bad(seq, f"entry {seq}: has no MAC although earlier entries do — forged entry")
                if legacy_limit is not None and seq > legacy_limit:
                    return bad(seq, f"entry {seq}: has no MAC, but only the first {legacy_limit} entries were "
                                    "written before MACs (pinned) — forged entry, or the MACs were removed")
                legacy += 1
            else:
                mac_seen = True
                macs += 1
                if mac != _blake2b(bytes.fromhex(digest), key=mac_key, digest_size=32,
                                   person=b"pg-audit-entry").hexdigest():
                    return bad(seq, f"entry {seq}: its MAC does not verify — the entry was forged or re-hashed "
                                    "without the audit key")
        # RFC 6962 tree, incrementally: merge as many subtrees as trailing one-bits of the old size
        node = _sha256(b"\x00" + bytes.fromhex(digest)).digest()
        merges = ((count ^ (count + 1)) >> 1).bit_length()
        for _ in range(merges):
            node = _sha256(b"\x01" + frontier.pop() + node).digest()
        frontier.append(node)
        prev, count = digest, count + 1
        if count in by_size:
            root = frontier_root(frontier)
            for cp in by_size[count]:
                if cp.head_hash != prev or cp.root_hash != root:
                    first = last_anchor + 1
                    return ScanResult(first, f"entries {first}–{count} differ from the checkpoint of {cp.at} "
                                             f"(tree size {count}, root {cp.root_hash[:16]}…): the log was "
                                             "rewritten", count, prev, frontier, legacy, matched, macs)
                matched += 1
            last_anchor = count
    return ScanResult(None, None, count, prev, frontier, legacy, matched, macs)
