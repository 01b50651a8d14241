"""Kill the retention run (SIGKILL) between and inside batches, rerun, and prove that
nothing was lost or counted twice: the ILS and the warehouse end exactly as after
one uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from checksums import table_checksums
from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from ledger_audit import assert_every_finished_batch_audited_once
from patronguard.ils import LibrarySpec, init_ils

POLICY = str(ROOT / "policy/westchester.yaml")
AS_OF = SMALL_SPEC["until"].isoformat()
WAREHOUSE = ("stats_circulation", "stats_distinct_patrons", "stats_patrons_removed")


def cli(ils_url: str, store_url: str, fault: str | None = None, *extra: str) -> list[str]:
    return [sys.executable, "-m", "patronguard.cli", "retention", "run", "--db", ils_url, "--store", store_url,
            "--policy", POLICY, "--as-of", AS_OF, "--batch-size", "200", "--json", *extra]


def env(fault: str | None = None) -> dict:
    out = {k: v for k, v in os.environ.items() if k != "PATRONGUARD_FAULT"}
    if fault:
        out["PATRONGUARD_FAULT"] = fault
    return out


def warehouse(store_url: str) -> dict:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        out = {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")))) for t in WAREHOUSE}
    engine.dispose()
    return out


def reference(backend: str, tmp_path) -> tuple[dict, dict]:
    """ILS checksums and warehouse after one uninterrupted run."""
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        store_url = f"sqlite:///{tmp_path / 'reference.db'}"
        done = subprocess.run(cli(url, store_url), env=env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return table_checksums(url), warehouse(store_url)


def killed(ils_url: str, store_url: str, fault: str) -> None:
    done = subprocess.run(cli(ils_url, store_url), env=env(fault), capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, (fault, done.returncode, done.stderr[-2000:])


def killed_after(ils_url: str, store_url: str, seconds: float) -> int:
    process = subprocess.Popen(cli(ils_url, store_url), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


FAULTS = ["after-prepare:2", "after-ils-commit:3", "after-prepare:10", "after-ils-commit:15", "after-prepare:8"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_killed_runs_end_exactly_like_an_uninterrupted_run(backend, tmp_path):
    (tmp_path / "ref").mkdir()
    expected_ils, expected_warehouse = reference(backend, tmp_path / "ref")
    faults = FAULTS if backend == "sqlite" else FAULTS[:2]
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        store_url = f"sqlite:///{tmp_path / 'store.db'}"
        for fault in faults:
            killed(url, store_url, fault)
        if backend == "sqlite":
            rng = random.Random(20261123)
            for _ in range(3):
                killed_after(url, store_url, rng.uniform(3.0, 8.0))
        final = subprocess.run(cli(url, store_url), env=env(), capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr[-3000:]
        summary = json.loads(final.stdout)
        assert summary["verified"] is True
        assert table_checksums(url) == expected_ils
        assert warehouse(store_url) == expected_warehouse
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            statuses = dict(conn.execute(sa.text("SELECT status, COUNT(*) FROM retention_batches GROUP BY status")).all())
        engine.dispose()
        assert statuses.get("prepared", 0) == 0
        assert statuses.get("abandoned", 0) >= 1     # a kill after prepare left one to redo
        assert_every_finished_batch_audited_once(store_url)  # the killed runs' work too, each batch once
        verify = subprocess.run([sys.executable, "-m", "patronguard.cli", "retention", "verify", "--db", url,
                                 "--store", store_url, "--policy", POLICY, "--as-of", AS_OF],
                                env=env(), capture_output=True, text=True, timeout=600)
        assert verify.returncode == 0, verify.stdout + verify.stderr
