"""The ledger against the audit log: every batch the ledger finished is listed by exactly one audit event."""
from __future__ import annotations

import json
from collections import Counter

import sqlalchemy as sa

from patronguard.retention.batchaudit import listed_batch_ids


def ledger_and_events(store: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, dict]]]:
    """batch id → (run id, status), and every audit event as (kind, payload)."""
    engine = sa.create_engine(store)
    with engine.connect() as conn:
        batches = {b: (run_id, status) for b, run_id, status in
                   conn.execute(sa.text("SELECT batch_id, run_id, status FROM retention_batches"))}
        events = [(kind, json.loads(payload)) for kind, payload in
                  conn.execute(sa.text("SELECT kind, payload FROM audit_events ORDER BY seq"))]
    engine.dispose()
    return batches, events


def assert_every_finished_batch_audited_once(store: str) -> dict[str, tuple[str, str]]:
    batches, events = ledger_and_events(store)
    listed = Counter(b for _, payload in events for b in listed_batch_ids(payload))
    finished = {b for b, (_, status) in batches.items() if status in ("done", "abandoned")}
    assert {b for b in finished if listed[b] != 1} == set()          # each in exactly one event
    assert set(listed) <= set(batches)                                 # and no event lists a batch that is not
    assert all(status != "prepared" for _, status in batches.values())
    return batches
