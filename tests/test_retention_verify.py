"""`retention verify` names the table on any discrepancy and exits non-zero."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from cli_helpers import run_cli
from patronguard.retention.run import run_retention

POLICY = str(ROOT / "policy/westchester.yaml")
AS_OF = SMALL_SPEC["until"].isoformat()


@pytest.fixture
def ran(small_ils_sqlite_copy, tmp_path):
    store = tmp_path / "store.db"
    run_retention(f"sqlite:///{small_ils_sqlite_copy}", POLICY, store_url=f"sqlite:///{store}", as_of=AS_OF)
    return f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{store}"


def verify(capsys, ils, store) -> tuple[int, str, str]:
    return run_cli(capsys, "retention", "verify", "--db", ils, "--store", store, "--policy", POLICY, "--as-of", AS_OF)


def _execute(url, sql, **params):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


def test_clean_run_verifies(capsys, ran):
    code, out, _ = verify(capsys, *ran)
    assert code == 0 and "verified" in out and "warehouse old_issues" in out


def test_a_relinked_loan_is_named(capsys, ran):
    ils, store = ran
    _execute(ils, "UPDATE old_issues SET borrowernumber = (SELECT MIN(borrowernumber) FROM borrowers "
                  "WHERE privacy = 1 AND borrowernumber NOT IN (SELECT borrowernumber FROM issues) "
                  "AND borrowernumber <> (SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron') "
                  "AND borrowernumber NOT IN (SELECT borrowernumber FROM accountlines WHERE amountoutstanding > 0 "
                  "AND borrowernumber IS NOT NULL)) "
                  "WHERE issue_id = (SELECT MIN(issue_id) FROM old_issues WHERE returndate < '2026-01-01' "
                  "AND borrowernumber = (SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'))")
    code, _, err = verify(capsys, ils, store)
    assert code == 1
    assert "verification failed: old_issues: 1 rows past retention" in err


def test_a_tampered_warehouse_is_named(capsys, ran):
    ils, store = ran
    _execute(store, "UPDATE stats_circulation SET events = events + 1 WHERE rowid = "
                    "(SELECT MIN(rowid) FROM stats_circulation WHERE source = 'statistics')")
    code, _, err = verify(capsys, ils, store)
    assert code == 1 and "statistics: the warehouse holds" in err


def test_a_batch_left_prepared_is_named(capsys, ran):
    ils, store = ran
    _execute(store, "UPDATE retention_batches SET status = 'prepared' WHERE rowid = (SELECT MIN(rowid) FROM retention_batches)")
    code, _, err = verify(capsys, ils, store)
    assert code == 1 and "retention_batches" in err
