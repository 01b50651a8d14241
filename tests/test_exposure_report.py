"""The exposure report's counts, checked table by table against hand-written SQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from checksums import table_checksums
from conftest import ROOT, SMALL_SPEC
from hand_sql import HAND_SQL, hand_counts
from hand_sql_more import MORE, hand_counts_any
from patronguard.retention import exposure_report, render_markdown, render_text
from patronguard.store import open_store
from patronguard.workflow.requests import place_hold_now

AS_OF = SMALL_SPEC["until"]


@pytest.fixture(scope="module")
def held_patron(small_ils_url):
    """A patron with loans past retention, to put under a legal hold."""
    engine = sa.create_engine(small_ils_url)
    with engine.connect() as conn:
        anon = int(conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar())
        number = conn.execute(sa.text(
            "SELECT o.borrowernumber FROM old_issues o JOIN borrowers b ON b.borrowernumber = o.borrowernumber "
            "WHERE b.privacy <> 0 AND o.borrowernumber <> :anon GROUP BY o.borrowernumber "
            "ORDER BY COUNT(*) DESC, o.borrowernumber LIMIT 1"), {"anon": anon}).scalar()
    engine.dispose()
    return anon, int(number)


@pytest.mark.parametrize("policy", ["westchester", "westport"])
def test_report_counts_match_independent_sql(small_ils_url, held_patron, tmp_path, policy):
    anon, held = held_patron
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    place_hold_now(open_store(store_url), held, reason="subpoena (test)", placed_by="test")
    report = exposure_report(small_ils_url, str(ROOT / f"policy/{policy}.yaml"), store_url=store_url, as_of=AS_OF)
    assert report.anonymous_patron == anon
    assert set(HAND_SQL) <= {t.table for t in report.tables} <= set(HAND_SQL) | set(MORE)
    engine = sa.create_engine(small_ils_url)
    has = lambda table, column: column in {c["name"] for c in sa.inspect(engine).get_columns(table)}  # noqa: E731
    with engine.connect() as conn:
        for t in report.tables:
            got = {"identified": t.identified, "past_retention": t.past_retention, "exempt": t.exempt,
                   "actionable": t.actionable}
            if t.table in HAND_SQL:
                expected = hand_counts(conn, t.table, t.cutoff, anon, [held], report.as_of)
                got["oldest"] = t.oldest
            else:
                expected = hand_counts_any(conn, t.table, t.cutoff, anon, [held], has, report.as_of)
            assert got == expected, t.table
    engine.dispose()
    assert report.past_retention > 0 and report.actionable > 0
    old_issues = next(t for t in report.tables if t.table == "old_issues")
    assert old_issues.exempt.get("legal_hold", 0) > 0
    assert old_issues.exempt.get("patron_keeps_history", 0) > 0


def test_shorter_retention_finds_more(small_ils_url, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    westchester = exposure_report(small_ils_url, str(ROOT / "policy/westchester.yaml"), store_url=store_url, as_of=AS_OF)
    westport = exposure_report(small_ils_url, str(ROOT / "policy/westport.yaml"), store_url=store_url, as_of=AS_OF)
    loans = {r.policy_library: next(t for t in r.tables if t.table == "old_issues") for r in (westchester, westport)}
    assert loans["Westport Library"].keep_days < loans["Westchester Public Library"].keep_days
    assert loans["Westport Library"].past_retention > loans["Westchester Public Library"].past_retention


def test_report_writes_nothing_to_the_ils_and_records_the_run(small_ils_url, tmp_path):
    before = table_checksums(small_ils_url)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    report = exposure_report(small_ils_url, str(ROOT / "policy/westchester.yaml"), store_url=store_url, as_of=AS_OF)
    assert table_checksums(small_ils_url) == before
    runs = open_store(store_url).runs("exposure-report")
    assert len(runs) == 1 and runs[0]["policy_sha256"] == report.policy_sha256
    assert report.validation["success"] and report.validation["evaluated"] >= 30


def test_renderings_name_every_table_and_category(small_ils_url, tmp_path):
    report = exposure_report(small_ils_url, str(ROOT / "policy/westport.yaml"),
                             store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    text, markdown = render_text(report), render_markdown(report)
    for t in report.tables:
        assert t.table in text and t.table in markdown
    for label in ("(a)", "(b)", "(c)", "Westport §3"):
        assert label in text or label in markdown
    data = report.to_dict()
    assert data["totals"]["past_retention"] == report.past_retention
