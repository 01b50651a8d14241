"""The cutoff to the day: a row dated on the cutoff day is kept, one dated the day before is past."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from conftest import ROOT
from dbs import fresh_database
from patronguard.ils import LibrarySpec, init_ils
from patronguard.policy import load_policy
from patronguard.retention.asof import cutoff_for
from patronguard.retention.run import run_retention

AS_OF = dt.date(2026, 6, 30)
POLICY = str(ROOT / "policy/westport.yaml")


def _two_strippable_loans(conn) -> list[int]:
    return list(conn.execute(sa.text(
        "SELECT o.issue_id FROM old_issues o JOIN borrowers b ON b.borrowernumber = o.borrowernumber "
        "WHERE b.privacy = 1 AND b.dateexpiry >= :d AND NOT EXISTS (SELECT 1 FROM accountlines a "
        "WHERE a.old_issue_id = o.issue_id AND a.amountoutstanding > 0) ORDER BY o.issue_id"), {"d": AS_OF}
    ).scalars().all()[:2])


def test_a_row_on_the_cutoff_day_is_kept_and_the_day_before_is_past(backend, tmp_path):
    keep_days = load_policy(POLICY).policy.rule_for("loan_history").keep_days
    cutoff = cutoff_for(AS_OF, keep_days)
    on_cutoff = dt.datetime.combine(cutoff, dt.time(0, 0))
    day_before = dt.datetime.combine(cutoff - dt.timedelta(days=1), dt.time(23, 59, 59))
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(patrons=150, loans=1500, years=2, seed=11, until=AS_OF))
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            kept, past = _two_strippable_loans(conn)
            patron = {}
            for issue_id, when in ((kept, on_cutoff), (past, day_before)):
                conn.execute(sa.text("UPDATE old_issues SET returndate = :r, issuedate = :i, timestamp = :r "
                                     "WHERE issue_id = :k"),
                             {"r": when, "i": when - dt.timedelta(days=7), "k": issue_id})
                patron[issue_id] = conn.execute(sa.text("SELECT borrowernumber FROM old_issues WHERE issue_id = :k"),
                                                {"k": issue_id}).scalar()
        run_retention(url, POLICY, store_url=f"sqlite:///{tmp_path / 'store.db'}", as_of=AS_OF)
        with engine.connect() as conn:
            now = {k: conn.execute(sa.text("SELECT borrowernumber FROM old_issues WHERE issue_id = :k"),
                                   {"k": k}).scalar() for k in (kept, past)}
        engine.dispose()
    assert now[kept] == patron[kept], "a loan returned on the cutoff day is kept"
    assert now[past] != patron[past], "a loan returned the day before the cutoff is stripped"
