"""Hand-written SQL, independent of the code under test, for what identifies a patron past retention."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

LINKED = "t.{link} IS NOT NULL AND t.{link} <> :anon"
HELD = "t.{link} IN :held"
KEEPS_HISTORY = "t.{link} IN (SELECT b.borrowernumber FROM borrowers b WHERE b.privacy = 0)"
PATRON_HAS_LOAN = "t.{link} IN (SELECT i.borrowernumber FROM issues i)"
PATRON_OWES = ("t.{link} IN (SELECT a.borrowernumber FROM accountlines a "
               "WHERE a.amountoutstanding > 0 AND a.borrowernumber IS NOT NULL)")
GUARANTOR = ("t.{link} IN (SELECT r.guarantor_id FROM borrower_relationships r JOIN borrowers g "
             "ON g.borrowernumber = r.guarantee_id WHERE g.dateexpiry IS NULL OR g.dateexpiry >= :today)")
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
# (borrowernumber 0 is a pending self-registration: nobody's orphan, it ages by its own timestamp)
EXTRA_PAST = {"borrower_modifications": " OR (t.borrowernumber <> 0 AND NOT EXISTS "
                                        "(SELECT 1 FROM borrowers o WHERE o.borrowernumber = t.borrowernumber))"}


def hand_counts(conn, table: str, cutoff: dt.date, anon: int, held: list[int], today: dt.date | None = None) -> dict:
    """``today``: the run's as-of day (a guarantor of a patron whose card is current on that day is kept)."""
    source, link, age, is_date, reasons = HAND_SQL[table]
    case = " ".join(f"WHEN {cond.format(link=link)} THEN '{name}'" for name, cond in reasons)
    sql = (f"SELECT reason, past, COUNT(*), MIN(age) FROM ("
           f" SELECT CASE {case} ELSE 'none' END AS reason,"
           f" CASE WHEN {age} < :cut{EXTRA_PAST.get(table, '')} THEN 1 ELSE 0 END AS past, {age} AS age"
           f" FROM {source} WHERE {LINKED.format(link=link)}{EXTRA_WHERE.get(table, '')}) s GROUP BY reason, past")
    cut_type = sa.Date() if is_date else sa.DateTime()
    cut = cutoff if is_date else dt.datetime.combine(cutoff, dt.time.min)
    params = [sa.bindparam("cut", cut, type_=cut_type), sa.bindparam("anon", anon),
              sa.bindparam("held", held, expanding=True)]
    if ":today" in sql:
        params.append(sa.bindparam("today", today or dt.date.today(), type_=sa.Date()))
    stmt = sa.text(sql).bindparams(*params)
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


