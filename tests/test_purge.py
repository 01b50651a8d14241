"""The Director's ad-hoc purge, through the retention engine and its ledger."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from checksums import table_checksums
from conftest import ROOT
from patronguard.errors import InputError
from patronguard.ils.piimap import builtin_pii_map
from patronguard.policy import load_policy
from patronguard.retention.exposure import build_exposure_report
from patronguard.retention.purge import parse_scope, policy_for_scope, run_purge
from patronguard.retention.report import opened_ils
from patronguard.store import opened_store

POLICY = load_policy(ROOT / "policy/westchester.yaml")


@pytest.mark.parametrize("text", ["older-than", "older-than:-3", "patron:", "patron:abc", "everything", "patron:1;drop"])
def test_bad_scope_is_one_clear_error(text):
    with pytest.raises(InputError, match="--scope: .* expected older-than:DAYS"):
        parse_scope(text)


def _heaviest_reader(url) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        number = conn.execute(sa.text(
            "SELECT o.borrowernumber FROM old_issues o JOIN borrowers b ON b.borrowernumber = o.borrowernumber "
            "WHERE b.privacy = 0 GROUP BY o.borrowernumber ORDER BY COUNT(*) DESC, o.borrowernumber LIMIT 1")).scalar()
    engine.dispose()
    return int(number)


def test_patron_purge_dry_run_changes_nothing_then_confirm_strips_their_history(small_ils_sqlite_copy, tmp_path):
    url, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 's.db'}"
    patron = _heaviest_reader(url)  # opted in to keep history: the request overrides that
    before = table_checksums(url)
    plan = run_purge(url, POLICY, parse_scope(f"patron:{patron}"), store_url=store, confirm=False,
                     authorized_by="director")
    assert plan["dry_run"] and plan["plan"]["old_issues"] > 0
    assert table_checksums(url) == before
    done = run_purge(url, POLICY, parse_scope(f"patron:{patron}"), store_url=store, confirm=True,
                     authorized_by="director")
    assert done["done"]["old_issues"]["stripped"] == plan["plan"]["old_issues"]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        left = conn.execute(sa.text(
            "SELECT COUNT(*) FROM old_issues WHERE borrowernumber = :p AND issue_id NOT IN "
            "(SELECT old_issue_id FROM accountlines WHERE amountoutstanding > 0 AND old_issue_id IS NOT NULL)"),
            {"p": patron}).scalar()
        searches = conn.execute(sa.text("SELECT COUNT(*) FROM search_history WHERE userid = :p"), {"p": patron}).scalar()
    engine.dispose()
    assert left == 0 and searches == 0
    with opened_store(store) as s, s.engine.connect() as conn:
        events = [json.loads(p) for (p,) in conn.execute(sa.text(
            "SELECT payload FROM audit_events WHERE kind = 'purge'"))]
        warehouse = conn.execute(sa.text("SELECT SUM(events) FROM stats_circulation WHERE source = 'old_issues'")).scalar()
    assert len(events) == 1 and str(patron) not in json.dumps(events[0]["scope"])
    assert warehouse == plan["plan"]["old_issues"]


def test_older_than_purge_leaves_nothing_actionable_at_that_age(small_ils_sqlite_copy, tmp_path):
    url, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 's.db'}"
    scope = parse_scope("older-than:10")
    result = run_purge(url, POLICY, scope, store_url=store, confirm=True, authorized_by="director")
    assert result["batches"] > 0
    shortened = policy_for_scope(POLICY, scope)
    assert all(rule.keep_days <= 10 for rule in shortened.policy.retention.schedule)
    with opened_ils(url) as (engine, shape):
        after = build_exposure_report(engine, shape, builtin_pii_map(), shortened,
                                      __import__("datetime").date.fromisoformat(result["as_of"]))
    assert after.actionable == 0
