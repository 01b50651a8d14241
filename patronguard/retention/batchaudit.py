"""Every batch the ledger finished appears in exactly one audit event — a killed run's too.

A run lists its own batches in its ``retention-run`` event (a purge in its
``purge`` event), written last. A run killed before that leaves batches no
event names: those it completed itself, and the one it left prepared, which
the next run's recovery completes or abandons.

So the next acting run — holding the run lock, so every other run's batch is
a dead run's (:mod:`.runlock`) — appends one ``retention-recovered`` event
listing every finished (done or abandoned) batch of another run that no
event lists yet: per dead run, each batch's id, table, action, status,
whether this recovery completed or abandoned it, its rows and counts. It does
so right after recovery (:func:`audit_dead_runs`), and once more, in the
transaction of its own event, in case a step between recovered more
(:func:`append_dead_runs`; normally it finds nothing). Its own event then
lists its own batches as the ledger has them (:func:`own_batches`), including
any a failed attempt of one of its own steps left and recovery finished.
Only ids, table names and counts: no patron value.
"""
from __future__ import annotations

from collections import defaultdict

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..audit import append_event, checkpoint
from ..store import Store
from .ledger import ABANDONED, DONE, Deltas

RECOVERED = "retention-recovered"
#: audit events that list ledger batches
LISTING_KINDS = ("retention-run", "purge", RECOVERED)


def listed_batch_ids(payload: dict) -> list[str]:
    """The batch ids an audit event's payload lists."""
    if not isinstance(payload, dict):
        return []
    def items(value) -> list:
        return value if isinstance(value, list) else []

    out = [b for b in items(payload.get("batch_ids")) + items(payload.get("abandoned_batch_ids"))
           if isinstance(b, str)]
    for run in items(payload.get("runs")):
        for batch in items(run.get("batches")) if isinstance(run, dict) else []:
            if isinstance(batch, dict) and isinstance(batch.get("batch_id"), str):
                out.append(batch["batch_id"])
    return out


def audited_batch_ids(conn: Connection, store: Store) -> set[str]:
    events = store["audit_events"]
    found: set[str] = set()
    for (text,) in conn.execute(sa.select(events.c.payload).where(events.c.kind.in_(LISTING_KINDS))):
        try:
            found.update(listed_batch_ids(orjson.loads(text)))
        except orjson.JSONDecodeError:
            continue
    return found


def unaudited_batches(conn: Connection, store: Store, *, besides_run: str | None) -> list:
    """Finished batches of runs other than ``besides_run`` that no audit event lists, oldest first."""
    ledger = store["retention_batches"]
    query = sa.select(ledger).where(ledger.c.status.in_((DONE, ABANDONED))).order_by(ledger.c.created_at)
    if besides_run is not None:
        query = query.where(ledger.c.run_id != besides_run)
    rows = list(conn.execute(query))
    if not rows:
        return []
    audited = audited_batch_ids(conn, store)
    return [r for r in rows if r.batch_id not in audited]


def _entry(row, recovered: dict[str, str]) -> dict:
    entry = {"batch_id": row.batch_id, "table": row.table_name, "action": row.action, "scope": row.scope,
             "status": row.status, "rows": int(row.row_count), "scrubbed": int(row.scrubbed or 0)}
    if row.batch_id in recovered:
        entry["recovery"] = recovered[row.batch_id]   # what this recovery did: completed or abandoned
    if row.status == DONE:
        entry["counts"] = {t: dict(c) for t, c in Deltas.from_blob(row.deltas).counts.items()}
    return entry


def append_dead_runs(conn: Connection, store: Store, run_id: str,
                     recovered: dict[str, str] | None = None) -> dict | None:
    """In the caller's store transaction: one ``retention-recovered`` event for the finished batches of other
    runs that no event lists; return its payload, or None when there are none."""
    rows = unaudited_batches(conn, store, besides_run=run_id)
    if not rows:
        return None
    recovered = recovered or {}
    by_run: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(_entry(row, recovered))
    payload = {
        "recovered_by": run_id,
        "completed": sum(1 for r in rows if r.status == DONE),
        "abandoned": sum(1 for r in rows if r.status == ABANDONED),
        "runs": [{"run_id": dead, "batches": batches} for dead, batches in by_run.items()],
    }
    append_event(conn, store["audit_events"], RECOVERED, payload)
    return payload


def audit_dead_runs(store: Store, run_id: str, recovered: dict[str, str] | None = None) -> dict | None:
    """:func:`append_dead_runs` in its own transaction, then checkpoint the log. Call holding the run lock."""
    with store.engine.begin() as conn:
        payload = append_dead_runs(conn, store, run_id, recovered)
    if payload is not None:
        checkpoint(store)
    return payload


def pending_ids(store: Store) -> set[str]:
    ledger = store["retention_batches"]
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(ledger.c.batch_id).where(ledger.c.status == "prepared")).scalars())


def what_recovery_did(store: Store, before: set[str]) -> dict[str, str]:
    """batch id → "completed" or "abandoned", for the batches prepared ``before`` recovery that it finished."""
    if not before:
        return {}
    ledger = store["retention_batches"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ledger.c.batch_id, ledger.c.status).where(ledger.c.batch_id.in_(list(before))))
        return {b: ("completed" if s == DONE else "abandoned") for b, s in rows if s in (DONE, ABANDONED)}


def own_batches(conn: Connection, store: Store, run_id: str) -> tuple[list[str], list[str]]:
    """This run's done and abandoned batch ids, as the ledger has them (oldest first)."""
    ledger = store["retention_batches"]
    done, abandoned = [], []
    for batch_id, status in conn.execute(sa.select(ledger.c.batch_id, ledger.c.status)
                                         .where(ledger.c.run_id == run_id).order_by(ledger.c.created_at)):
        (done if status == DONE else abandoned if status == ABANDONED else []).append(batch_id)
    return done, abandoned
