"""The audit log's hash chain: every run appends one event; edits, deletions and reorders are found."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from patronguard.audit import append_event, verify_chain
from patronguard.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with s.engine.begin() as conn:
        for i in range(5):
            append_event(conn, s["audit_events"], "retention-run", {"run": i, "stripped": {"old_issues": i * 10}})
    yield s
    s.engine.dispose()


def _check(store) -> int | None:
    with store.engine.connect() as conn:
        return verify_chain(conn, store["audit_events"])


def test_intact_chain_verifies(store):
    assert _check(store) is None


def test_edited_payload_is_found(store):
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET payload = :p WHERE seq = 3"),
                     {"p": json.dumps({"run": 2, "stripped": {"old_issues": 0}})})
    assert _check(store) == 3


def test_deleted_entry_is_found(store):
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = 2"))
    assert _check(store) == 3


def test_reordered_entries_are_found(store):
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET seq = 99 WHERE seq = 2"))
        conn.execute(sa.text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
        conn.execute(sa.text("UPDATE audit_events SET seq = 4 WHERE seq = 99"))
    assert _check(store) == 2
