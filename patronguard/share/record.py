"""The gate's decisions in the audit log (kind ``share``), and a retried share found there.

Every decision of the gate is one event: outcome, recipient, request and file hashes, counts per entity
kind — never a value, a masked preview or a borrowernumber (the audit log refuses patron keys anyway).
A share is identified by :func:`share_key` (file hash, request hash, recipient, redaction asked or not):
a retry of a share already released — Prefect's retry, or the same command run again — finds its event
(:func:`recorded_release`) and releases nothing again and writes no second event, as
:func:`~patronguard.workflow.purge_request.recorded_purge` does for a purge.
"""
from __future__ import annotations

import hashlib
import json

#: the audit event kind of the gate's decisions
SHARE_EVENT = "share"


def share_key(file_sha256: str, request_sha256: str, recipient: str, redact: bool) -> str:
    text = json.dumps([file_sha256, request_sha256, recipient, bool(redact)], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_release(store_url: str | None, key: str) -> dict | None:
    """The ``share`` event that released this very share, or None."""
    import sqlalchemy as sa

    from ..store import opened_store

    with opened_store(store_url) as store:
        t = store["audit_events"]
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.seq, t.c.payload)
                                .where(t.c.kind == SHARE_EVENT, t.c.payload.contains(key))
                                .order_by(t.c.seq.desc())).all()
    for seq, text in rows:
        payload = json.loads(text)
        if payload.get("share_key") == key and payload.get("outcome") == "released":
            return {**payload, "audit_seq": seq}
    return None


def record_share(store_url: str | None, payload: dict) -> int:
    """Append the gate's decision (its own transaction, then the head checkpointed); its sequence number."""
    from ..audit import record_event
    from ..store import opened_store

    with opened_store(store_url) as store:
        return record_event(store, SHARE_EVENT, payload).seq
