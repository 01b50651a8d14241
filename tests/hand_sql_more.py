"""Hand-written SQL for the tables beyond circulation and for older Koha lines.

Written from the policy texts and the README's reading of them (what is history,
what is open, what a patron's opt-in covers), not from the PII map, so that a
mistake in the map shows up as a disagreement.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from hand_sql import EXTRA_PAST, EXTRA_WHERE, HAND_SQL, HELD, KEEPS_HISTORY, LINKED, PATRON_HAS_LOAN, PATRON_OWES

OPEN = "({})"
MORE = {
    "reviews": ("reviews t", "borrowernumber", "t.datereviewed", False, [("legal_hold", HELD)]),
    "tags_all": ("tags_all t", "borrowernumber", "t.date_created", False, [("legal_hold", HELD)]),
    "ratings": ("ratings t", "borrowernumber", "t.timestamp", False, [("legal_hold", HELD)]),
    "suggestions": ("suggestions t", "suggestedby", "t.suggesteddate", True, [
        ("legal_hold", HELD), ("still_open", "t.STATUS IN ('ASKED', 'CHECKED', 'ACCEPTED', 'ORDERED')"),
        ("patron_keeps_history", KEEPS_HISTORY)]),
    "article_requests": ("article_requests t", "borrowernumber", "t.updated_on", False, [
        ("legal_hold", HELD), ("still_open", "t.status IN ('REQUESTED', 'PENDING', 'PROCESSING')"),
        ("patron_keeps_history", KEEPS_HISTORY)]),
    "illrequests": ("illrequests t", "borrowernumber", "t.updated", False, [
        ("legal_hold", HELD), ("still_open", "t.completed IS NULL"), ("patron_keeps_history", KEEPS_HISTORY)]),
    "messages": ("messages t", "borrowernumber", "t.message_date", False, [("legal_hold", HELD)]),
    "borrower_debarments": ("borrower_debarments t", "borrowernumber", "t.created", False, [
        ("legal_hold", HELD), ("still_open", "t.expiration IS NULL OR t.expiration >= :today")]),
    "linktracker": ("linktracker t", "borrowernumber", "t.timeclicked", False, [("legal_hold", HELD)]),
    "pseudonymized_transactions": ("pseudonymized_transactions t", "hashed_borrowernumber", "t.datetime", False, []),
    "checkout_renewals": ("checkout_renewals t", "renewer_id", "t.timestamp", False, [
        ("legal_hold", HELD), ("patron_keeps_history", KEEPS_HISTORY)]),
    "problem_reports": ("problem_reports t", "borrowernumber", "t.created_on", False, [
        ("legal_hold", HELD), ("still_open", "t.status IN ('New', 'Viewed')")]),
    "tickets": ("tickets t", "reporter_id", "t.reported_date", False, [
        ("legal_hold", HELD), ("still_open", "t.resolved_date IS NULL")]),
    "pending_offline_operations": ("pending_offline_operations t", "cardnumber", "t.timestamp", False, [
        ("legal_hold", "t.cardnumber IN (SELECT h.cardnumber FROM borrowers h WHERE h.borrowernumber IN :held)")]),
    "discharges": ("discharges t", "borrower", "t.needed", False, [
        ("legal_hold", HELD), ("still_open", "t.validated IS NULL")]),
    "housebound_visit": ("housebound_visit t", "borrowernumber", "t.appointment_date", True, [("legal_hold", HELD)]),
    "return_claims": ("return_claims t", "borrowernumber", "t.created_on", False, [
        ("legal_hold", HELD), ("still_open", "t.resolution IS NULL")]),
    "curbside_pickups": ("curbside_pickups t", "borrowernumber", "t.scheduled_pickup_datetime", False, [
        ("legal_hold", HELD), ("still_open", "t.delivered_datetime IS NULL")]),
    "bookings": ("bookings t", "patron_id", "t.end_date", False, [
        ("legal_hold", HELD), ("still_open", "t.end_date IS NULL OR t.end_date >= :today"),
        ("patron_keeps_history", KEEPS_HISTORY)]),
    "recalls": ("recalls t", "patron_id", "t.timestamp", False, [
        ("legal_hold", HELD), ("still_open", "t.completed_date IS NULL"), ("patron_keeps_history", KEEPS_HISTORY)]),
}
#: links that are not borrowernumbers: identifying is "not null" (no anonymous patron to compare with)
NOT_A_BORROWERNUMBER = {"pseudonymized_transactions", "pending_offline_operations"}

GUARANTOR_OLD = ("t.{link} IN (SELECT g.guarantorid FROM borrowers g "
                 "WHERE g.guarantorid IS NOT NULL AND (g.dateexpiry IS NULL OR g.dateexpiry >= :today))")


def hand_sql(table: str, has_column) -> tuple:
    """The hand SQL for ``table`` in a database whose columns ``has_column(table, column)`` tells."""
    source, link, age, is_date, reasons = MORE.get(table) or HAND_SQL[table]
    reasons = list(reasons)
    if table == "old_issues" and not has_column("accountlines", "old_issue_id"):
        reasons = [(n, c.replace("a.old_issue_id", "a.issue_id")) if n == "money_owed" else (n, c)
                   for n, c in reasons]
    if table in ("borrowers", "borrower_attributes") and not has_column("borrower_relationships", "guarantor_id"):
        reasons = [(n, GUARANTOR_OLD if n == "guarantor_of_current_patron" else c) for n, c in reasons]
    return source, link, age, is_date, reasons


def hand_counts_any(conn, table: str, cutoff: dt.date, anon: int, held: list[int], has_column,
                    today: dt.date) -> dict:
    source, link, age, is_date, reasons = hand_sql(table, has_column)
    case = " ".join(f"WHEN {cond.format(link=link)} THEN '{name}'" for name, cond in reasons)
    reason = f"CASE {case} ELSE 'none' END" if reasons else "'none'"
    linked = f"t.{link} IS NOT NULL" if table in NOT_A_BORROWERNUMBER else LINKED.format(link=link)
    extra_past = EXTRA_PAST.get(table, "")
    sql = (f"SELECT reason, past, COUNT(*), MIN(age) FROM ("
           f" SELECT {reason} AS reason,"
           f" CASE WHEN {age} < :cut{extra_past} THEN 1 ELSE 0 END AS past, {age} AS age"
           f" FROM {source} WHERE {linked}{EXTRA_WHERE.get(table, '')}) s GROUP BY reason, past")
    cut_type = sa.Date() if is_date else sa.DateTime()
    cut = cutoff if is_date else dt.datetime.combine(cutoff, dt.time.min)
    params = [sa.bindparam("cut", cut, type_=cut_type)]
    if ":held" in sql:
        params.append(sa.bindparam("held", held or [-1], expanding=True))
    if ":anon" in sql:
        params.append(sa.bindparam("anon", anon))
    if ":today" in sql:
        params.append(sa.bindparam("today", today, type_=sa.Date()))
    if conn.dialect.name == "postgresql":  # Koha's upper-case column must be quoted there
        sql = sql.replace("t.STATUS", 't."STATUS"')
    out = {"identified": 0, "past_retention": 0, "exempt": {}, "actionable": 0}
    for reason_name, past, n, _oldest in conn.execute(sa.text(sql).bindparams(*params)):
        out["identified"] += n
        if past:
            out["past_retention"] += n
            if reason_name == "none":
                out["actionable"] += n
            else:
                out["exempt"][reason_name] = out["exempt"].get(reason_name, 0) + n
    return out


__all__ = ["MORE", "hand_counts_any", "hand_sql", "PATRON_HAS_LOAN", "PATRON_OWES"]
