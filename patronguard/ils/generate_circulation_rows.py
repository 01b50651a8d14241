"""Rows of the catalogue and circulation tables: biblio, items, issues,
old_issues, reserves, old_reserves, statistics, accountlines and
items_last_borrower.

``statistics`` has, as in Koha, one ``issue`` row per loan at its
checkout, one ``renew`` row per renewal, one ``return`` row per returned
loan and one ``payment`` row per paid fine, each carrying the
borrowernumber (kept after the patron is deleted: there is no foreign key),
the patron's category and the item's type, collection and location.
"""
from __future__ import annotations

import numpy as np

from .generate_catalogue import BRANCH_CODES, Catalogue
from .generate_circulation import MAX_RENEWALS, Loans
from .generate_holds import CANCELLED, Holds
from .generate_money import Fines
from .generate_people import People
from .generate_util import DAY, Calendar, Columns, Const, Formatter, objects

BRANCHES = objects(BRANCH_CODES)
LOAN_COLUMNS = ["issue_id", "borrowernumber", "issuer_id", "itemnumber", "date_due", "branchcode", "returndate",
                "lastreneweddate", "renewals_count", "auto_renew", "timestamp", "issuedate", "onsite_checkout",
                "note", "notedate"]
HOLD_COLUMNS = ["reserve_id", "borrowernumber", "reservedate", "biblionumber", "itemnumber", "branchcode",
                "notificationdate", "cancellationdate", "cancellation_reason", "reservenotes", "priority", "found",
                "timestamp", "waitingdate", "expirationdate", "itemtype"]


def _nullable(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[null] = None
    return out


def biblio(cat: Catalogue, fmt: Formatter) -> Columns:
    created = np.full(cat.n_biblio, np.iinfo(np.int64).max)
    np.minimum.at(created, cat.biblio, cat.accessioned)
    return Columns("biblio", ["biblionumber", "frameworkcode", "author", "title", "subtitle", "notes",
                              "copyrightdate", "datecreated"],
                   [np.arange(1, cat.n_biblio + 1), Const(""), cat.author, cat.title, cat.subtitle, Const(None),
                    cat.copyrightdate, fmt.days(created)])


def items(cat: Catalogue, people: People, loans: Loans, holds: Holds, fmt: Formatter,
          rng: np.random.Generator) -> Columns:
    n = cat.n_items
    last = loans.item_last_issue
    borrowed = last >= 0
    back = loans.item_last_return
    holding = np.where(borrowed, loans.branch[np.maximum(last, 0)], cat.homebranch)
    seen = np.where(borrowed, loans.t_issue[np.maximum(last, 0)], cat.accessioned * DAY + 10 * 3600)
    seen = np.where(back >= 0, np.maximum(seen, loans.t_ret[np.maximum(back, 0)]), seen)
    on_loan = loans.item_on_loan
    reserves = np.bincount(holds.item[holds.item_known], minlength=n)
    notes = np.full(n, None, dtype=object)
    returned = np.flatnonzero(back >= 0)
    count = min(len(returned), max(2, int(round(len(returned) * 0.005))))
    if count:
        for it in np.sort(rng.choice(returned, size=count, replace=False)).tolist():
            b = loans.patron[back[it]]
            phone = people.mobile[b] or people.phone[b] or "no phone on file"
            notes[it] = f"Returned damaged by {people.firstname[b]} {people.surname[b]} ({phone}); fee discussed."
    return Columns("items", ["itemnumber", "biblionumber", "biblioitemnumber", "barcode", "dateaccessioned",
                             "homebranch", "holdingbranch", "price", "datelastborrowed", "datelastseen", "itemlost",
                             "withdrawn", "itemcallnumber", "issues", "renewals", "reserves", "itemnotes",
                             "itemnotes_nonpublic", "location", "onloan", "ccode", "itype"],
                   [np.arange(1, n + 1), cat.biblio + 1, cat.biblio + 1, cat.barcode, fmt.days(cat.accessioned),
                    BRANCHES[cat.homebranch], BRANCHES[holding], cat.price,
                    fmt.days(loans.day[np.maximum(last, 0)], null=~borrowed), fmt.moments(seen), Const(0), Const(0),
                    cat.callnumber, np.minimum(loans.item_issues, 32767), np.minimum(loans.item_renewals, 32767),
                    reserves, cat.itemnotes, notes, cat.location,
                    fmt.days(loans.due_day[np.maximum(on_loan, 0)], null=on_loan < 0), cat.ccode, cat.itype])


class LoanText:
    """Formatted loan moments, shared by issues, old_issues and statistics."""

    def __init__(self, loans: Loans, fmt: Formatter) -> None:
        self.issued = fmt.moments(loans.t_issue)
        self.returned = fmt.moments(loans.t_ret, null=loans.current)
        self.due = fmt.moments(loans.t_due)
        self.renewed = fmt.moments(loans.last_ren_t, null=loans.renewals == 0)
        self.noted = fmt.moments(loans.t_note, null=~loans.has_note)


def loans_table(name: str, loans: Loans, text: LoanText) -> Columns:
    idx = np.flatnonzero(loans.current if name == "issues" else loans.returned)
    patron = loans.patron[idx] + 1
    if name == "old_issues":
        patron = _nullable(patron, loans.patron_deleted[idx])
    stamp = np.where(loans.current[idx], text.renewed[idx], text.returned[idx])
    stamp = np.where(stamp == None, text.issued[idx], stamp)  # noqa: E711
    return Columns(name, LOAN_COLUMNS,
                   [idx + 1, patron, loans.issuer[idx] + 1, loans.item[idx] + 1, text.due[idx],
                    BRANCHES[loans.branch[idx]], text.returned[idx], text.renewed[idx], loans.renewals[idx],
                    Const(0), stamp, text.issued[idx], Const(0), loans.note[idx], text.noted[idx]])


def holds_table(name: str, holds: Holds, cal: Calendar, fmt: Formatter) -> Columns:
    idx = np.flatnonzero(holds.current if name == "reserves" else ~holds.current)
    h = holds
    patron = h.patron[idx] + 1
    if name == "old_reserves":
        patron = _nullable(patron, h.patron_deleted[idx])
    waiting = h.waiting_day[idx]
    end_day = h.end_t[idx] // DAY
    cancelled = h.state[idx] == CANCELLED
    expires = np.where(cancelled & h.expired[idx], end_day, h.expires[idx])
    stamp = np.where(h.current[idx], np.maximum(h.placed_t[idx], h.waiting_t[idx]), h.end_t[idx])
    return Columns(name, HOLD_COLUMNS,
                   [idx + 1, patron, fmt.days(h.placed[idx]), h.biblio[idx] + 1,
                    _nullable(h.item[idx] + 1, ~h.item_known[idx]), BRANCHES[h.branch[idx]],
                    fmt.days(waiting, null=waiting < 0), fmt.days(end_day, null=~cancelled), Const(None),
                    h.reservenotes[idx], h.priority[idx], h.found[idx], fmt.moments(np.minimum(stamp, cal.end - 1)),
                    fmt.days(waiting, null=waiting < 0), fmt.days(expires, null=expires < 0), Const(None)])


def statistics(people: People, cat: Catalogue, loans: Loans, fines: Fines, text: LoanText, fmt: Formatter,
               rng: np.random.Generator) -> Columns:
    N = loans.n
    renew_loan = [np.flatnonzero(loans.renewals > k) for k in range(MAX_RENEWALS)]
    renew_t = np.concatenate([loans.ren_t[r, k] for k, r in enumerate(renew_loan)])
    returned = np.flatnonzero(loans.returned)
    paid = np.flatnonzero(fines.paid)
    kind = np.concatenate([np.zeros(N, np.int8), np.ones(len(renew_t), np.int8),
                           np.full(len(returned), 2, np.int8), np.full(len(paid), 3, np.int8)])
    loan = np.concatenate([np.arange(N), *renew_loan, returned, fines.loan[paid]])
    t = np.concatenate([loans.t_issue, renew_t, loans.t_ret[returned], fines.t_pay[paid]])
    stamp = np.concatenate([text.issued, fmt.moments(renew_t), text.returned[returned],
                            fmt.moments(fines.t_pay[paid])])
    value = np.concatenate([np.zeros(N + len(renew_t) + len(returned)), fines.amount[paid]])
    order = np.lexsort((loan, kind, t))
    kind, loan, stamp, value = kind[order], loan[order], stamp[order], value[order]
    is_payment = kind == 3
    item = loans.item[loan]
    patron = loans.patron[loan]
    interface = np.select([kind == 1, rng.random(len(kind)) < 0.12], [
        np.where(rng.random(len(kind)) < 0.55, "opac", "intranet"), "sip"], "intranet").astype(object)
    interface[is_payment] = "intranet"
    return Columns("statistics", ["datetime", "branch", "value", "type", "other", "itemnumber", "itemtype",
                                  "location", "borrowernumber", "ccode", "categorycode", "interface"],
                   [stamp, BRANCHES[loans.branch[loan]], value,
                    objects(["issue", "renew", "return", "payment"])[kind], Const(None),
                    _nullable(item + 1, is_payment), _nullable(cat.itype[item], is_payment),
                    _nullable(cat.location[item], is_payment), patron + 1, _nullable(cat.ccode[item], is_payment),
                    people.category[patron], interface])


def accountlines(people: People, cat: Catalogue, loans: Loans, fines: Fines, cal: Calendar, fmt: Formatter
                 ) -> Columns:
    f = fines
    paid = np.flatnonzero(f.paid)
    n_d, n_c = f.n, len(paid)
    loan = np.concatenate([f.loan, f.loan[paid]])
    credit = np.concatenate([np.zeros(n_d, bool), np.ones(n_c, bool)])
    date_t = np.concatenate([f.t_date, f.t_pay[paid]])
    updated = np.concatenate([np.maximum(f.t_updated, f.t_pay), f.t_pay[paid]])
    order = np.lexsort((credit, date_t))
    loan, credit, date_t, updated = loan[order], credit[order], date_t[order], updated[order]
    src = np.concatenate([np.arange(n_d), paid])[order]
    current = loans.current[loan]
    item = loans.item[loan]
    description = objects([f"{t} {b}" for t, b in zip(cat.title[cat.biblio[item]].tolist(),
                                                      cat.barcode[item].tolist())])
    description[credit] = ""
    n = len(loan)
    return Columns("accountlines", ["accountlines_id", "issue_id", "old_issue_id", "borrowernumber", "itemnumber",
                                    "date", "amount", "description", "credit_type_code", "debit_type_code",
                                    "status", "amountoutstanding", "timestamp", "note", "manager_id", "interface",
                                    "branchcode"],
                   [np.arange(1, n + 1), _nullable(loan + 1, credit | ~current),
                    _nullable(loan + 1, credit | current), _nullable(loans.patron[loan] + 1, loans.patron_deleted[loan]),
                    _nullable(item + 1, credit), fmt.moments(date_t),
                    np.where(credit, -f.amount[src], f.amount[src]),
                    description, np.where(credit, "PAYMENT", None), np.where(credit, None, "OVERDUE"),
                    np.where(credit, None, np.where(current, "UNRETURNED", "RETURNED")),
                    np.where(credit, 0.0, f.outstanding[src]), fmt.moments(np.minimum(updated, cal.end - 1)),
                    np.where(credit, None, f.note[src]), _nullable(f.manager[src] + 1, ~credit),
                    np.where(credit, "intranet", "cron").astype(object), BRANCHES[loans.branch[loan]]])


def items_last_borrower(loans: Loans, fmt: Formatter) -> Columns:
    back = loans.item_last_return
    item = np.flatnonzero(back >= 0)
    item = item[~loans.patron_deleted[back[item]]]
    loan = back[item]
    order = np.argsort(loans.t_ret[loan], kind="stable")
    item, loan = item[order], loan[order]
    return Columns("items_last_borrower", ["id", "itemnumber", "borrowernumber", "created_on"],
                   [np.arange(1, len(item) + 1), item + 1, loans.patron[loan] + 1, fmt.moments(loans.t_ret[loan])])
