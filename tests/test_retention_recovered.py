"""A killed run's work is audited: after kills and a rerun, every batch the ledger finished appears in
exactly one audit event, and the recovery event says what recovery completed or abandoned."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from ledger_audit import assert_every_finished_batch_audited_once, ledger_and_events
from patronguard.ils import LibrarySpec, init_ils

POLICY = str(ROOT / "policy/westchester.yaml")
AS_OF = SMALL_SPEC["until"].isoformat()


def patronguard(*args: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PATRONGUARD_FAULT"}
    if fault:
        env["PATRONGUARD_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "patronguard.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def run(ils: str, store: str, fault: str | None = None) -> subprocess.CompletedProcess:
    return patronguard("retention", "run", "--db", ils, "--store", store, "--policy", POLICY, "--as-of", AS_OF,
                       "--batch-size", "250", "--json", fault=fault)


def verify(ils: str, store: str) -> subprocess.CompletedProcess:
    return patronguard("retention", "verify", "--db", ils, "--store", store, "--policy", POLICY, "--as-of", AS_OF)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_a_killed_runs_batches_are_each_audited_exactly_once(backend, tmp_path):
    with fresh_database(backend, tmp_path) as ils:
        init_ils(ils, LibrarySpec(**SMALL_SPEC))
        store = f"sqlite:///{tmp_path / 'store.db'}"
        first = run(ils, store, fault="after-ils-commit:3")            # 2 batches done, the 3rd committed only
        assert first.returncode < 0, first.stderr[-2000:]
        before = verify(ils, store)
        assert before.returncode == 1
        assert "finished batches of 1 run(s) appear in no audit event" in before.stdout + before.stderr
        second = run(ils, store, fault="after-prepare:5")              # recovers and audits the first, dies
        assert second.returncode < 0, second.stderr[-2000:]
        third = run(ils, store)
        assert third.returncode == 0, third.stderr[-3000:]
        summary = json.loads(third.stdout)
        assert summary["verified"] is True and summary["recovered"] == {"completed": 0, "abandoned": 1}

        batches = assert_every_finished_batch_audited_once(store)
        _, events = ledger_and_events(store)
        recovered = [p for kind, p in events if kind == "retention-recovered"]
        runs = [p["run_id"] for kind, p in events if kind == "retention-run"]
        assert len(recovered) == 2 and len(runs) == 1
        dead = [r["run_id"] for p in recovered for r in p["runs"]]
        assert len(set(dead)) == 2 and runs[0] not in dead                 # the two killed runs, one each
        first_run = recovered[0]["runs"][0]["batches"]
        assert [b["status"] for b in first_run] == ["done", "done", "done"]
        assert [b.get("recovery") for b in first_run] == [None, None, "completed"]
        assert all(b["counts"] and b["table"] and b["rows"] > 0 for b in first_run)
        second_run = recovered[1]["runs"][0]["batches"]
        assert [b.get("recovery") for b in second_run] == [None] * 4 + ["abandoned"]
        assert second_run[-1]["status"] == "abandoned" and "counts" not in second_run[-1]
        assert recovered[1]["completed"] == 4 and recovered[1]["abandoned"] == 1
        assert {b for b, (r, _) in batches.items() if r == runs[0]} == \
            set(next(p for k, p in events if k == "retention-run")["batch_ids"])

        after = verify(ils, store)
        assert after.returncode == 0, after.stdout + after.stderr
        audit = patronguard("audit", "verify", "--store", store)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        report = tmp_path / "board.html"
        board = patronguard("audit", "report", "--store", store, "--out", str(report))
        assert board.returncode == 0, board.stdout + board.stderr
        html = " ".join(report.read_text().split())
        assert "Recovery of a killed run's work" in html
        assert "3 batches of 1 killed run: 3 completed, 0 abandoned" in html
        assert "5 batches of 1 killed run: 4 completed, 1 abandoned" in html
