"""The exposure report's counts, checked table by table against hand-written SQL."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from checksums import table_checksums
from conftest import ROOT, SMALL_SPEC
from patronguard.retention import exposure_report, render_markdown, render_text
from patronguard.store import open_store

AS_OF = SMALL_SPEC["until"]
LINKED = "t.{link} IS NOT NULL AND t.{link} <> :anon"
HELD = "t.{link} IN :held"
KEEPS_HISTORY = "t.{link} IN (SELECT b.borrowernumber FROM borrowers b WHERE b.privacy = 0)"
PATRON_HAS_LOAN = "t.{link} IN (SELECT i.borrowernumber FROM issues i)"
PATRON_OWES = ("t.{link} IN (SELECT a.borrowernumber FROM accountlines a "
               "WHERE a.amountoutstanding > 0 AND a.borrowernumber IS NOT NULL)")
GUARANTOR = ("t.{link} IN (SELECT r.guarantor_id FROM borrower_relationships r JOIN borrowers g "
             "ON g.borrowernumber = r.guarantee_id WHERE g.dateexpiry IS NULL OR g.dateexpiry >= CURRENT_DATE)")
PATRON_EXEMPTIONS = [("legal_hold", HELD), ("item_still_out", PATRON_HAS_LOAN), ("money_owed", PATRON_OWES),
                     ("guarantor_of_current_patron", GUARANTOR)]

# table -> (FROM ... WHERE ..., link column, age expression, age is a DATE, [(reason, condition)])
HAND_SQL = {
    "old_issues": ("old_issues t", "borrowernumber", "t.returndate", False, [
        ("legal_hold", HELD),
        ("money_owed", "t.issue_id IN (SELECT a.old_issue_id FROM accountlines a "
                       "WHERE a.amountoutstanding > 0 AND a.old_issue_id IS NOT NULL)"),
        ("patron_keeps_history", KEEPS_HISTORY)]),
    "old_reserves": ("old_reserves t", "borrowernumber", "t.timestamp", False,
                     [("legal_hold", HELD), ("patron_keeps_history", KEEPS_HISTORY)]),
    "statistics": ("statistics t", "borrowernumber", "t.datetime", False, [("legal_hold", HELD)]),
    "accountlines": ("accountlines t", "borrowernumber", "t.date", False, [
        ("legal_hold", HELD), ("money_owed", "COALESCE(t.amountoutstanding, 0) <> 0")]),
    "action_logs": ("action_logs t", "object", "t.timestamp", False, [("legal_hold", HELD)]),
    "message_queue": ("message_queue t", "borrowernumber", "t.time_queued", False, [("legal_hold", HELD)]),
    "search_history": ("search_history t", "userid", "t.time", False, [("legal_hold", HELD)]),
    "items_last_borrower": ("items_last_borrower t", "borrowernumber", "t.created_on", False, [("legal_hold", HELD)]),
    "borrower_modifications": ("borrower_modifications t", "borrowernumber", "t.timestamp", False,
                               [("legal_hold", HELD)]),
    "deletedborrowers": ("deletedborrowers t", "borrowernumber", "t.updated_on", False, [("legal_hold", HELD)]),
    "borrowers": ("borrowers t", "borrowernumber", "t.dateexpiry", True, PATRON_EXEMPTIONS),
    "borrower_attributes": ("borrower_attributes t JOIN borrowers p ON p.borrowernumber = t.borrowernumber",
                            "borrowernumber", "p.dateexpiry", True, PATRON_EXEMPTIONS),
    "borrower_relationships": ("borrower_relationships t JOIN borrowers p ON p.borrowernumber = t.guarantee_id",
                               "guarantee_id", "p.dateexpiry", True, PATRON_EXEMPTIONS),
}
EXTRA_WHERE = {"action_logs": " AND t.module IN ('MEMBERS', 'CIRCULATION', 'FINES', 'HOLDS', 'NOTICES')"}
# a pending change request whose patron is gone is past retention whatever its age
EXTRA_PAST = {"borrower_modifications": " OR NOT EXISTS (SELECT 1 FROM borrowers o WHERE o.borrowernumber = t.borrowernumber)"}


def hand_counts(conn, table: str, cutoff: dt.date, anon: int, held: list[int]) -> dict:
    source, link, age, is_date, reasons = HAND_SQL[table]
    case = " ".join(f"WHEN {cond.format(link=link)} THEN '{name}'" for name, cond in reasons)
    sql = (f"SELECT reason, past, COUNT(*), MIN(age) FROM ("
           f" SELECT CASE {case} ELSE 'none' END AS reason,"
           f" CASE WHEN {age} < :cut{EXTRA_PAST.get(table, '')} THEN 1 ELSE 0 END AS past, {age} AS age"
           f" FROM {source} WHERE {LINKED.format(link=link)}{EXTRA_WHERE.get(table, '')}) s GROUP BY reason, past")
    cut_type = sa.Date() if is_date else sa.DateTime()
    cut = cutoff if is_date else dt.datetime.combine(cutoff, dt.time.min)
    stmt = sa.text(sql).bindparams(sa.bindparam("cut", cut, type_=cut_type), sa.bindparam("anon", anon),
                                   sa.bindparam("held", held, expanding=True))
    out = {"identified": 0, "past_retention": 0, "exempt": {}, "actionable": 0, "oldest": None}
    for reason, past, n, oldest in conn.execute(stmt):
        out["identified"] += n
        if not past:
            continue
        out["past_retention"] += n
        day = dt.date.fromisoformat(str(oldest)[:10])
        out["oldest"] = day if out["oldest"] is None else min(out["oldest"], day)
        if reason == "none":
            out["actionable"] += n
        else:
            out["exempt"][reason] = n
    return out


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
    open_store(store_url).place_legal_hold(held, reason="subpoena (test)", placed_by="test")
    report = exposure_report(small_ils_url, str(ROOT / f"policy/{policy}.yaml"), store_url=store_url, as_of=AS_OF)
    assert report.anonymous_patron == anon
    assert {t.table for t in report.tables} == set(HAND_SQL)
    engine = sa.create_engine(small_ils_url)
    with engine.connect() as conn:
        for t in report.tables:
            expected = hand_counts(conn, t.table, t.cutoff, anon, [held])
            got = {"identified": t.identified, "past_retention": t.past_retention, "exempt": t.exempt,
                   "actionable": t.actionable, "oldest": t.oldest}
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
