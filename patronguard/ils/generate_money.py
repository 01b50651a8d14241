"""Overdue fines and their payments (accountlines).

Every late return gets an ``OVERDUE`` debit (``status = 'RETURNED'``,
``old_issue_id`` = the loan's issue_id, as Koha moves it at return); every
loan still out past its due date gets an accruing one (``status =
'UNRETURNED'``, ``issue_id`` set). About 85 % of returned-loan fines are
paid: the debit's ``amountoutstanding`` is 0 and a ``PAYMENT`` credit line
(negative amount) records the payment, which also makes a ``payment``
statistics row. Deleted patrons had paid everything (Koha will not delete a
patron who owes) and their lines lost the borrowernumber (``ON DELETE SET
NULL``). A few debits carry a staff note naming the patron and a phone.
"""
from __future__ import annotations

import numpy as np

from .generate_catalogue import FINE_RATE, Catalogue
from .generate_circulation import Loans
from .generate_people import People
from .generate_util import DAY, Calendar


class Fines:
    """One entry per OVERDUE debit; ``paid`` ones also have a PAYMENT credit at ``t_pay``."""


def build_fines(cal: Calendar, people: People, cat: Catalogue, loans: Loans,
                rng: np.random.Generator) -> Fines:
    f = Fines()
    loan = np.flatnonzero(loans.late_returned | loans.overdue_now)
    n = len(loan)
    f.loan, f.n = loan, n
    f.current = loans.current[loan]
    stop = np.where(f.current, cal.end, loans.t_ret[loan])
    days_late = np.maximum(-((loans.t_due[loan] - stop) // DAY), 1)
    itype = cat.itype[loans.item[loan]]
    rate = np.array([FINE_RATE[t][0] for t in itype.tolist()])
    cap = np.array([FINE_RATE[t][1] for t in itype.tolist()])
    f.amount = np.round(np.minimum(days_late * rate, cap), 2)
    f.t_date = np.minimum((loans.due_day[loan] + 1) * DAY + 2 * 3600, stop - 1)
    f.t_date = np.maximum(f.t_date, loans.t_due[loan] + 60)
    f.t_updated = np.where(f.current, np.minimum(cal.end - DAY + 2 * 3600, cal.end - 1), stop)
    f.t_updated = np.maximum(f.t_updated, f.t_date)

    deleted = loans.patron_deleted[loan]
    pay_t = stop + rng.integers(0, 45 * DAY, n)
    pay_t = np.where(deleted, np.minimum(pay_t, people.deleted_t[loans.patron[loan]] - 60), pay_t)
    paid = ~f.current & ((rng.random(n) < 0.85) | deleted) & (pay_t < cal.end)
    # Make sure both kinds exist whenever there is more than one fine.
    unpaid_ok = ~f.current & ~deleted
    if n >= 2 and paid.all() and unpaid_ok.any():
        paid[np.flatnonzero(unpaid_ok)[-1]] = False
    if n >= 2 and not paid.any():
        payable = np.flatnonzero(~f.current & (stop + 60 < cal.end))
        if len(payable):
            paid[payable[0]] = True
            pay_t[payable[0]] = stop[payable[0]] + 60
    f.paid = paid
    f.t_pay = np.where(paid, pay_t, -1)
    f.outstanding = np.where(paid, 0.0, f.amount)
    f.manager = people.staff_idx[rng.integers(0, len(people.staff_idx), n)]
    f.note = _notes(f, loans, people, rng)
    return f


def _notes(f: Fines, loans: Loans, people: People, rng: np.random.Generator) -> np.ndarray:
    notes = np.full(f.n, None, dtype=object)
    count = min(f.n, max(2, int(round(f.n * 0.02))))
    if not count:
        return notes
    chosen = np.sort(rng.choice(f.n, size=count, replace=False))
    for i in chosen.tolist():
        b = loans.patron[f.loan[i]]
        phone = people.mobile[b] or people.phone[b]
        who = f"{people.firstname[b]} {people.surname[b]}"
        notes[i] = (f"{who} disputed this fine by phone ({phone})." if phone
                    else f"{who} disputed this fine at the desk.")
    return notes
