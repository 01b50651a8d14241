"""The nightly flow when it acts: retries a dropped connection, leaves no patron value behind."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from dbs import POSTGRES_SERVER, fresh_database
from patronguard.ils import LibrarySpec, init_ils

POLICY = str(ROOT / "policy/westchester.yaml")
AS_OF = SMALL_SPEC["until"].isoformat()


def _terminate_once_batches_are_done(ils_url: str, store_path: Path, stop: threading.Event, killed: list) -> None:
    """Once the run has completed a few batches, terminate every connection to the ILS database."""
    database = sa.engine.make_url(ils_url).database
    admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        done = 0
        if store_path.exists():
            store = sa.create_engine(f"sqlite:///{store_path}")
            try:
                with store.connect() as conn:
                    done = conn.execute(sa.text("SELECT COUNT(*) FROM retention_batches WHERE status = 'done'")).scalar()
            except sa.exc.OperationalError:
                done = 0
            finally:
                store.dispose()
        if done >= 3:
            with admin.connect() as conn:
                n = conn.execute(sa.text("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database}).scalar()
            if n:
                killed.append(n)
                break
        time.sleep(0.02)
    admin.dispose()


def test_dropped_connection_is_retried_and_the_run_completes(prefect_harness, tmp_path, monkeypatch):
    from flows.nightly_retention import nightly_retention

    with fresh_database("postgresql", tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        store_path = tmp_path / "store.db"
        stop, killed = threading.Event(), []
        watcher = threading.Thread(target=_terminate_once_batches_are_done, args=(url, store_path, stop, killed))
        watcher.start()
        try:
            monkeypatch.setenv("PATRONGUARD_ILS_URL", url)
            monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{store_path}")
            run = nightly_retention(policy_path=POLICY, as_of=AS_OF, batch_size=100,
                                    report_dir=str(tmp_path / "reports"))
        finally:
            stop.set()
            watcher.join()
        assert killed, "the test never managed to drop the connection"
        assert run.verification.ok
        assert sum(run.recovered.values()) >= 0 and run.batch_ids


CANARY_FIRST, CANARY_LAST = "Zyqcanaryfirst", "Xoqcanarylast"
CANARY_EMAIL, CANARY_PHONE, CANARY_CARD = "zyq.canary@example.org", "(555) 013-3700", "29990000013370"
CANARIES = (CANARY_FIRST, CANARY_LAST, CANARY_EMAIL, CANARY_PHONE, CANARY_CARD)


def _plant_canaries(url: str) -> int:
    """Give the patrons with the most loans a canary identity, and mention it in their notes."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        patrons = list(conn.execute(sa.text(
            "SELECT borrowernumber FROM old_issues WHERE borrowernumber IS NOT NULL "
            "GROUP BY borrowernumber ORDER BY COUNT(*) DESC LIMIT 5")).scalars())
        for i, p in enumerate(patrons):
            conn.execute(sa.text("UPDATE borrowers SET firstname = :f, surname = :s, email = :e, phone = :ph, "
                                 "cardnumber = :c, dateexpiry = '2020-01-01' WHERE borrowernumber = :p"),
                         {"f": CANARY_FIRST, "s": CANARY_LAST, "e": CANARY_EMAIL, "ph": CANARY_PHONE,
                          "c": CANARY_CARD[:-1] + str(i), "p": p})
            # nothing keeps them: no loan out, nothing owed, nobody guaranteed, history not kept
            conn.execute(sa.text("DELETE FROM issues WHERE borrowernumber = :p"), {"p": p})
            conn.execute(sa.text("UPDATE accountlines SET amountoutstanding = 0 WHERE borrowernumber = :p"), {"p": p})
            conn.execute(sa.text("DELETE FROM borrower_relationships WHERE guarantor_id = :p"), {"p": p})
            conn.execute(sa.text("UPDATE borrowers SET privacy = 1 WHERE borrowernumber = :p"), {"p": p})
            conn.execute(sa.text("UPDATE old_issues SET note = :n WHERE borrowernumber = :p"),
                         {"n": f"{CANARY_FIRST} {CANARY_LAST} ({CANARY_PHONE}, {CANARY_EMAIL}) reported damage",
                          "p": p})
    engine.dispose()
    return len(patrons)


def _files_under(path: Path):
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_canary_patron_values_reach_no_prefect_or_audit_storage(prefect_harness, tmp_path, monkeypatch):
    from prefect.settings import get_current_settings

    from flows.nightly_retention import nightly_retention

    with fresh_database("sqlite", tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        assert _plant_canaries(url) == 5
        store_path = tmp_path / "store.db"
        monkeypatch.setenv("PATRONGUARD_ILS_URL", url)
        monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{store_path}")
        nightly_retention(policy_path=POLICY, as_of=AS_OF, batch_size=500, report_dir=str(tmp_path / "reports"))
        nightly_retention(policy_path=POLICY, as_of=AS_OF, dry_run=True, report_dir=str(tmp_path / "reports"))
        settings = get_current_settings()
        prefect_db = Path(sa.engine.make_url(settings.server.database.connection_url.get_secret_value()
                                             if hasattr(settings.server.database.connection_url, "get_secret_value")
                                             else settings.server.database.connection_url).database)
        places = [prefect_db, *prefect_db.parent.glob(prefect_db.name + "*"), *store_path.parent.glob(store_path.name + "*"),
                  *_files_under(Path(settings.results.local_storage_path)), *_files_under(Path(settings.home)),
                  *_files_under(tmp_path / "reports")]
        assert prefect_db.exists()
        for place in places:
            data = place.read_bytes()
            for canary in CANARIES:
                assert canary.encode() not in data, f"{canary} found in {place}"
        # the canaries were really processed: the ILS no longer has them either
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM borrowers WHERE surname = :s"),
                                {"s": CANARY_LAST}).scalar() == 0
            assert conn.execute(sa.text("SELECT COUNT(*) FROM old_issues WHERE note LIKE :n"),
                                {"n": f"%{CANARY_LAST}%"}).scalar() == 0
        engine.dispose()


def test_the_flow_refuses_a_store_that_is_the_ils_before_writing(prefect_harness, small_ils_sqlite_copy, monkeypatch):
    import pytest

    from checksums import table_checksums
    from flows.nightly_retention import nightly_retention
    from patronguard.errors import InputError

    url = f"sqlite:///{small_ils_sqlite_copy}"
    before = table_checksums(url)
    with pytest.raises(InputError, match="is the ILS's own database"):
        monkeypatch.setenv("PATRONGUARD_ILS_URL", url)
        monkeypatch.setenv("PATRONGUARD_STORE_URL", url)
        nightly_retention(policy_path=POLICY, as_of=AS_OF)
    assert table_checksums(url) == before


def test_the_nightly_run_logs_each_batch_against_its_total_and_moves_a_progress_artifact(
        prefect_harness, tmp_path, monkeypatch):
    """Under Prefect a long table is not silent: "old_issues: N of TOTAL rows stripped" per batch, and a
    progress artifact per table that ends at 100 %."""
    import asyncio
    import re

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    from flows.nightly_retention import nightly_retention

    with fresh_database("sqlite", tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        monkeypatch.setenv("PATRONGUARD_ILS_URL", url)
        monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
        state = nightly_retention(policy_path=POLICY, as_of=AS_OF, batch_size=500,
                                  report_dir=str(tmp_path / "reports"), return_state=True)
        assert state.is_completed()
        flow_run_id = state.state_details.flow_run_id

        async def held():
            async with get_client() as client:
                logs, offset = [], 0
                while True:
                    page = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                                  limit=200, offset=offset)
                    logs += [log.message for log in page]
                    if len(page) < 200:
                        break
                    offset += 200
                artifacts = await client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])), limit=200)
            return logs, artifacts

        logs, artifacts = asyncio.run(held())
        store = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        with store.connect() as conn:
            payload = conn.execute(sa.text("SELECT payload FROM audit_events WHERE kind = 'retention-run'")).scalar_one()
        store.dispose()
        assert json.loads(payload)["flow_run_id"] == str(flow_run_id)  # the audit names the Prefect run
    lines = [m for m in logs if re.fullmatch(r"old_issues: [0-9,]+ of [0-9,]+ rows stripped", m)]
    assert len(lines) >= 2, logs  # batches of 500: several lines, each against the table's total
    total = int(lines[-1].split(" of ")[1].split()[0].replace(",", ""))
    assert int(lines[-1].split(":")[1].split(" of ")[0].replace(",", "")) == total  # the last batch reaches it
    progress = [a for a in artifacts if a.type == "progress"]
    assert progress and all(float(a.data) == 100.0 for a in progress)
    assert any("old_issues" in (a.description or "") for a in progress)
