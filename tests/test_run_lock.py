"""One acting run at a time: two runs started together never count a batch twice, a second run waits or
says who holds the lock (exit 3), and recovery leaves a live run's prepared batch alone."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from conftest import ROOT
from dbs import fresh_database
from patronguard.errors import TransientError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.policy import load_policy
from patronguard.retention.engine import recover_pending_batches, retention_context
from patronguard.retention.ledger import Deltas
from patronguard.retention.run import run_retention
from patronguard.retention.runlock import RunLockBusyError, live_run_id, run_lock, run_lock_for_urls
from patronguard.store import open_store

POLICY = str(ROOT / "policy/westchester.yaml")
UNTIL = dt.date(2026, 6, 30)
AS_OF = UNTIL.isoformat()
AGGREGATED = {"old_issues": "borrowernumber", "old_reserves": "borrowernumber", "accountlines": "borrowernumber",
              "statistics": "borrowernumber"}


@pytest.fixture
def urls(backend, tmp_path):
    """A small library and an empty store, both on ``backend``."""
    with fresh_database(backend, tmp_path) as ils_url, fresh_database(backend, tmp_path) as store_url:
        init_ils(ils_url, LibrarySpec(patrons=150, loans=1500, years=2, seed=11, until=UNTIL))
        yield ils_url, store_url


def cli(ils_url: str, store_url: str, lock_wait: float) -> list[str]:
    return [sys.executable, "-m", "patronguard.cli", "retention", "run", "--db", ils_url, "--store", store_url,
            "--policy", POLICY, "--as-of", AS_OF, "--batch-size", "500", "--json", "--lock-wait", str(lock_wait)]


def anon_linked(ils_url: str) -> dict[str, int]:
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        anon = int(conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'"))
                   .scalar())
        out = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE {c} = :a"), {"a": anon}).scalar()
               for t, c in AGGREGATED.items()}
    engine.dispose()
    return out


def warehouse(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT source, SUM(events) FROM stats_circulation GROUP BY source")).all())
    engine.dispose()
    return {k: int(v) for k, v in rows.items()}


def assert_busy_line(stderr: str) -> None:
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("patronguard: error: retention run: another patronguard run holds the run lock"), last
    assert "pid " in last and "started " in last


def test_two_runs_at_once_count_each_row_once(urls):
    """Started together: one acts; the other either exits 3 naming it (no wait) or waits and finds nothing."""
    ils_url, store_url = urls
    linked_before = anon_linked(ils_url)
    impatient = subprocess.Popen(cli(ils_url, store_url, 0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    patient = subprocess.Popen(cli(ils_url, store_url, 120), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out_i, err_i), (out_p, err_p) = impatient.communicate(timeout=300), patient.communicate(timeout=300)
    assert patient.returncode == 0, err_p[-2000:]
    if impatient.returncode == 3:   # the patient one acted; the other said who held the lock
        assert_busy_line(err_i)
    else:                           # the impatient one acted; the patient one waited and had nothing to do
        assert impatient.returncode == 0, err_i[-2000:]
        assert '"batches": 0' in out_p, out_p[-2000:]
    linked_after = anon_linked(ils_url)
    stripped = {t: linked_after[t] - linked_before[t] for t in AGGREGATED}
    assert warehouse(store_url) == {t: n for t, n in stripped.items() if n}   # each row counted exactly once
    assert stripped["old_issues"] > 0
    later = run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, lock_wait=0)  # verifies, too
    assert later.verification.ok and later.batch_ids == []
    assert later.recovered == {"completed": 0, "abandoned": 0}


def test_a_held_lock_stops_a_run_with_one_line_naming_the_holder(urls, tmp_path):
    ils_url, store_url = urls
    holder = str(uuid.uuid4())
    with run_lock_for_urls(ils_url, store_url, run_id=holder, what="retention run", wait=0):
        with pytest.raises(RunLockBusyError) as caught:
            run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, lock_wait=0.3)
        assert isinstance(caught.value, TransientError) and caught.value.exit_code == 3
        message = str(caught.value)
        assert "run lock of the store" in message and holder in message and f"pid {os.getpid()}" in message
        # another store, the same ILS: the ILS's own lock keeps that run out too
        with pytest.raises(RunLockBusyError, match="run lock of the ILS"):
            run_retention(ils_url, POLICY, store_url=f"sqlite:///{tmp_path / 'other-store.db'}", as_of=AS_OF,
                          lock_wait=0)
        if ils_url.startswith("sqlite"):  # the CLI: exit code 3 and the same one line (a subprocess is slow)
            done = subprocess.run(cli(ils_url, store_url, 0.3), capture_output=True, text=True, timeout=300)
            assert done.returncode == 3, done.stderr[-2000:]
            assert_busy_line(done.stderr)
            assert holder in done.stderr.strip().splitlines()[-1]
    store = open_store(store_url)
    assert live_run_id(store) is None
    store.engine.dispose()
    with run_lock_for_urls(ils_url, store_url, run_id="next", what="retention run", wait=0) as lock:  # free again
        assert lock.run_id == "next"


def _a_queued_message(ils_url: str) -> list[int]:
    """The key of a row still in the ILS: a prepared delete batch naming it was not committed."""
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        key = conn.execute(sa.text("SELECT MIN(message_id) FROM message_queue")).scalar()
    engine.dispose()
    return [key]


def test_recovery_leaves_a_live_runs_prepared_batch_alone(urls):
    ils_url, store_url = urls
    loaded = load_policy(POLICY)
    live = str(uuid.uuid4())
    keys = _a_queued_message(ils_url)
    with run_lock_for_urls(ils_url, store_url, run_id=live, what="retention run", wait=0):
        with retention_context(ils_url, store_url, loaded, frozenset(), 500, live) as owner:
            batch = owner.ledger.prepare(run_id=live, table="message_queue", action="delete", scope="schedule",
                                         selector={"keys": keys}, deltas=Deltas(), row_count=1)
        store = open_store(store_url)
        assert live_run_id(store) == live
        store.engine.dispose()
        with retention_context(ils_url, store_url, loaded, frozenset(), 500, str(uuid.uuid4())) as other:
            assert recover_pending_batches(other) == {"completed": 0, "abandoned": 0}
            assert [b.batch_id for b in other.ledger.pending()] == [batch]   # left alone: its owner is alive
        with retention_context(ils_url, store_url, loaded, frozenset(), 500, live) as itself:
            assert recover_pending_batches(itself) == {"completed": 0, "abandoned": 1}  # its own failed attempt
    with retention_context(ils_url, store_url, loaded, frozenset(), 500, live) as owner:
        second = owner.ledger.prepare(run_id=live, table="message_queue", action="delete", scope="schedule",
                                      selector={"keys": keys}, deltas=Deltas(), row_count=1)
    store = open_store(store_url)
    assert live_run_id(store) is None           # its owner is gone: the next run (holding the lock) recovers it
    with retention_context(ils_url, store_url, loaded, frozenset(), 500, str(uuid.uuid4())) as next_run:
        with run_lock(next_run.ils, store, run_id=next_run.run_id, wait=0):
            assert recover_pending_batches(next_run) == {"completed": 0, "abandoned": 1}
            assert next_run.ledger.pending() == [] and second
    store.engine.dispose()
