"""Benchmark: audit-log appends per second, and verifying a 1,000,000-entry log (target ≤ 10 s).

Both against a floor measured in the same run, on the same SQLite store file
(WAL, synchronous=FULL, as the store runs):

(a) appends: ``append_event`` each in its own transaction (what a decision
    costs the gateway), and ``record_event`` (append + checkpoint outside the
    store, fsync'd) — against bare ``sqlite3`` INSERTs of the same rows, one
    transaction each, same pragmas;
(b) verification: ``verify_log`` (sequence, chain link, SHA-256, BLAKE2b MAC,
    RFC 6962 tree, checkpoint comparison) over N entries — against the floor
    of reading the same rows with bare ``sqlite3`` and one ``hashlib.sha256``
    per row over the same bytes. The log is built fast: chained rows are
    precomputed and bulk-inserted, and a checkpoint is written for its head.

    .venv/bin/python benchmarks/gateway_audit.py [--appends 2000] [--entries 1000000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PATRONGUARD_HASH_KEY", "5a" * 32)

PAYLOAD = {"outcome": "refer", "action": "disclose", "clauses": ["westport-4", "ct-11-25b"],
           "obligations": ["consult_counsel"], "request_sha256": "ab" * 32, "policy_version": "2010.1"}


def _workdir(tmp: str) -> None:
    os.environ["PATRONGUARD_VAR"] = str(Path(tmp) / "var")


def _bare_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def measure_appends(n: int = 2000) -> dict:
    """Appends per second: append_event (own transaction each), record_event, and the bare-sqlite3 floor."""
    from patronguard.audit import append_event, record_event
    from patronguard.store import open_store

    with tempfile.TemporaryDirectory(prefix="pg-bench-audit-") as tmp:
        _workdir(tmp)
        store = open_store(f"sqlite:///{tmp}/store.db")
        table = store["audit_events"]
        start = time.perf_counter()
        for i in range(n):
            with store.engine.begin() as conn:
                append_event(conn, table, "decision", PAYLOAD | {"n": i})
        appends = time.perf_counter() - start
        m = max(1, n // 4)
        start = time.perf_counter()
        for i in range(m):
            record_event(store, "decision", PAYLOAD | {"n": i})
        recorded = time.perf_counter() - start
        store.engine.dispose()

        bare = _bare_connection(Path(tmp) / "bare.db")
        bare.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, at TEXT, kind TEXT, payload TEXT, prev_hash TEXT,"
                     " entry_hash TEXT, entry_mac TEXT)")
        text = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"))
        start = time.perf_counter()
        for i in range(1, n + 1):
            bare.execute("BEGIN")
            bare.execute("INSERT INTO t VALUES (?,?,?,?,?,?,?)",
                         (i, "2026-07-01 12:00:00.000000", "decision", text, "0" * 64, "1" * 64, "2" * 64))
            bare.execute("COMMIT")
        floor = time.perf_counter() - start
        bare.close()
    return {"appends": n, "append_per_s": n / appends, "record_event_per_s": m / recorded,
            "bare_insert_per_s": n / floor, "ratio_append_to_bare": appends / floor}


def build_log(path: Path, entries: int) -> None:
    """A store whose audit log holds ``entries`` genuine chained, MAC'd rows, plus a checkpoint of its head."""
    from patronguard.audit.hashing import GENESIS, audit_mac_key, canonical_fast
    from patronguard.audit.log import _record, audit_log_id, checkpoint_path
    from patronguard.audit.scan import ScanResult
    from patronguard.store import open_store

    store = open_store(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        log_id = audit_log_id(conn, store.tables)
    store.engine.dispose()
    key = audit_mac_key()
    sha256, blake2b = hashlib.sha256, hashlib.blake2b
    base = dt.datetime(2026, 1, 1)
    texts = [json.dumps(PAYLOAD | {"n": i}, sort_keys=True, separators=(",", ":")) for i in range(1000)]
    prev, frontier = GENESIS, []
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    batch = []
    for seq in range(1, entries + 1):
        at = (base + dt.timedelta(seconds=seq)).isoformat(timespec="microseconds")
        text = texts[seq % 1000]
        digest = sha256(canonical_fast(seq, at, "decision", text, prev)).hexdigest()
        raw = bytes.fromhex(digest)
        mac = blake2b(raw, key=key, digest_size=32, person=b"pg-audit-entry").hexdigest()
        batch.append((seq, at.replace("T", " "), "decision", text, prev, digest, mac))
        node = sha256(b"\x00" + raw).digest()
        for _ in range((((seq - 1) ^ seq) >> 1).bit_length()):
            node = sha256(b"\x01" + frontier.pop() + node).digest()
        frontier.append(node)
        prev = digest
        if len(batch) == 50_000:
            conn.executemany("INSERT INTO audit_events (seq, at, kind, payload, prev_hash, entry_hash, entry_mac) "
                             "VALUES (?,?,?,?,?,?,?)", batch)
            batch.clear()
    if batch:
        conn.executemany("INSERT INTO audit_events (seq, at, kind, payload, prev_hash, entry_hash, entry_mac) "
                         "VALUES (?,?,?,?,?,?,?)", batch)
    conn.commit()
    conn.close()
    scan = ScanResult(None, None, entries, prev, frontier, 0)
    _record(checkpoint_path(log_id), log_id, scan, key)


def measure_verify(entries: int = 1_000_000) -> dict:
    """Seconds to verify_log ``entries`` entries, and the bare read + SHA-256 floor on the same rows."""
    from patronguard.audit import verify_log
    from patronguard.store import open_store

    with tempfile.TemporaryDirectory(prefix="pg-bench-audit-") as tmp:
        _workdir(tmp)
        path = Path(tmp) / "store.db"
        start = time.perf_counter()
        build_log(path, entries)
        built = time.perf_counter() - start

        bare = sqlite3.connect(path)
        start = time.perf_counter()
        sha256 = hashlib.sha256
        for row in bare.execute("SELECT seq, at, kind, payload, prev_hash, entry_hash, entry_mac "
                                "FROM audit_events ORDER BY seq"):
            sha256(f"{row[0]}{row[1]}{row[2]}{row[3]}{row[4]}".encode()).hexdigest()
        floor = time.perf_counter() - start
        bare.close()

        store = open_store(f"sqlite:///{path}")
        start = time.perf_counter()
        result = verify_log(store, record=False)
        seconds = time.perf_counter() - start
        store.engine.dispose()
    if not result.ok or result.entries != entries or result.checkpoints != 1:
        raise SystemExit(f"benchmark log did not verify: {result.summary()}")
    return {"entries": entries, "build_s": built, "verify_s": seconds, "floor_s": floor,
            "entries_per_s": entries / seconds, "ratio_to_floor": seconds / floor, "target_s": 10.0,
            "within_target": seconds <= 10.0 * entries / 1_000_000}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    a = measure_appends(args.appends)
    print(f"appends: {a['append_per_s']:,.0f}/s append_event (own transaction each), "
          f"{a['record_event_per_s']:,.0f}/s record_event (+ checkpoint, fsync), "
          f"bare sqlite3 insert {a['bare_insert_per_s']:,.0f}/s; ratio append_event/bare = "
          f"{a['ratio_append_to_bare']:.2f}x")
    v = measure_verify(args.entries)
    print(f"verify: {v['entries']:,} entries in {v['verify_s']:.2f} s ({v['entries_per_s']:,.0f}/s; "
          f"built in {v['build_s']:.1f} s); floor (bare read + sha256) {v['floor_s']:.2f} s; "
          f"ratio {v['ratio_to_floor']:.2f}x; target ≤ 10 s per 1M: "
          f"{'met' if v['within_target'] else 'MISSED'}")


if __name__ == "__main__":
    main()
