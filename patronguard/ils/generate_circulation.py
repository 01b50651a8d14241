"""Loans: who borrowed which item when, renewals, returns, and what is still out.

All loans are drawn at once with numpy:

* the borrower is drawn with heavy-tailed weights (lognormal appetite times
  the days the patron could borrow: between enrolment and expiry/deletion);
* the day is drawn within that window from a seasonal calendar (summer
  peak, quiet Sundays, closed on holidays), the time within opening hours;
* the item is drawn from a Zipf-like popularity;
* ~15 % are renewed (1–3 times, a few days before each due date), ~18 %
  come back late, a few very late.

A loan whose copy is still out with someone else goes to another copy
(drawn again, favouring less popular ones; a few rounds), then the loans of
each copy are put in order and any remaining return is pulled back to just
before the copy's next checkout, so a copy is never lent twice at once. A loan whose return would fall after ``until`` becomes a
current ``issues`` row; only the last loan of a copy can, so
``issues.itemnumber`` is unique by construction. Every other loan is in
``old_issues``. Both share one ``issue_id`` space, numbered by checkout time.

Deleted patrons returned everything before they were deleted (Koha refuses
to delete a patron with items out); their ``old_issues.borrowernumber`` is
NULL. Loans of patrons with ``privacy = 2`` are *kept linked* to them: this
models a library whose anonymisation at return did not happen (AnonymousPatron
was unset for a while, or the history predates the setting) — exactly the
backlog the pipeline must find and fix.
"""
from __future__ import annotations

import numpy as np

from .generate_catalogue import Catalogue
from .generate_people import People
from .generate_util import DAY, DUE_TIME, Calendar

LOAN_DAYS = 21
MAX_RENEWALS = 3
REASSIGN_ROUNDS = 4
NO_TIME = np.iinfo(np.int64).max // 4


class Loans:
    """Arrays in ``issue_id`` order: index ``k`` is the loan with issue_id ``k + 1``."""


def build_loans(n_loans: int, cal: Calendar, people: People, cat: Catalogue,
                rng: np.random.Generator) -> Loans:
    N = n_loans
    patron = rng.choice(people.n, size=N, p=people.weight / people.weight.sum())
    day = cal.draw_days(rng, people.win_lo[patron], people.win_hi[patron])
    t_issue = day * DAY + cal.opening_seconds(rng, N)
    item = rng.choice(cat.n_items, size=N, p=cat.weight)

    wanted = np.where(rng.random(N) < 0.15,
                      1 + (rng.random(N) < 0.4).astype(np.int64) + (rng.random(N) < 0.25), 0)
    k = np.arange(1, MAX_RENEWALS + 1)
    ren_day = day[:, None] + LOAN_DAYS * k[None, :] - rng.integers(0, 4, (N, MAX_RENEWALS))
    ren_t = ren_day * DAY + cal.opening_seconds(rng, N * MAX_RENEWALS).reshape(N, MAX_RENEWALS)
    ren_t = np.where(k[None, :] <= wanted[:, None], ren_t, NO_TIME)
    last_ren_day = np.where(wanted > 0, ren_day[np.arange(N), np.maximum(wanted, 1) - 1], day)
    due_day = day + LOAN_DAYS * (1 + wanted)

    late = rng.random(N) < 0.18
    late_by = rng.geometric(1 / 7, N) + np.where(rng.random(N) < 0.03, rng.integers(30, 150, N), 0)
    lo, hi = last_ren_day + 1, due_day
    on_time = lo + ((hi - lo + 1) * rng.random(N) ** 1.4).astype(np.int64)
    ret_day = np.where(late, due_day + late_by, np.minimum(on_time, hi))
    t_ret = ret_day * DAY + cal.opening_seconds(rng, N)
    deleted_t = people.deleted_t[patron]
    t_ret = np.where(deleted_t >= 0, np.minimum(t_ret, deleted_t - 3600), t_ret)

    # One copy, one borrower at a time. A loan whose copy is still out goes to another copy
    # (a few rounds, preferring less popular ones), then each remaining return is pulled back
    # to just before the copy's next checkout.
    fallback = np.sqrt(cat.weight)
    fallback /= fallback.sum()
    for _ in range(REASSIGN_ROUNDS):
        order = np.lexsort((t_issue, item))
        busy = np.zeros(N, dtype=bool)
        busy[order[1:]] = (item[order[1:]] == item[order[:-1]]) & (t_issue[order[1:]] < t_ret[order[:-1]])
        if not busy.any():
            break
        item[busy] = rng.choice(cat.n_items, size=int(busy.sum()), p=fallback)
    order = np.lexsort((t_issue, item))
    patron, item, t_issue, t_ret, ren_t, day = (a[order] for a in (patron, item, t_issue, t_ret, ren_t, day))
    same = item[1:] == item[:-1]
    pulled = np.minimum(t_ret[:-1], np.maximum(t_issue[:-1], t_issue[1:] - 600))
    t_ret[:-1] = np.where(same, pulled, t_ret[:-1])
    current = t_ret >= cal.end

    # Renewals that happened before the return (or before the end of history).
    horizon = np.where(current, cal.end, t_ret)
    renewals = (ren_t < horizon[:, None]).sum(axis=1)
    ren_t = np.where(np.arange(MAX_RENEWALS)[None, :] < renewals[:, None], ren_t, NO_TIME)

    # Number loans by checkout time.
    order = np.argsort(t_issue, kind="stable")
    L = Loans()
    L.n = N
    L.patron, L.item, L.t_issue, L.t_ret, L.ren_t, L.day, L.current, L.renewals = (
        a[order] for a in (patron, item, t_issue, t_ret, ren_t, day, current, renewals))
    L.returned = ~L.current
    L.t_ret = np.where(L.current, -1, L.t_ret)
    L.due_day = L.day + LOAN_DAYS * (1 + L.renewals)
    L.t_due = L.due_day * DAY + DUE_TIME
    L.last_ren_t = np.where(L.renewals > 0, L.ren_t[np.arange(N), np.maximum(L.renewals, 1) - 1], -1)
    L.branch = np.where(rng.random(N) < 0.75, people.branch[L.patron], rng.integers(0, 4, N))
    L.issuer = people.staff_idx[rng.integers(0, len(people.staff_idx), N)]
    L.patron_deleted = people.deleted[L.patron]
    L.late_returned = L.returned & (L.t_ret > L.t_due)
    L.overdue_now = L.current & (L.due_day < cal.days - 1)  # due before ``until``
    _notes(L, people, rng)
    _summaries(L, people, cat)
    return L


def _notes(L: Loans, people: People, rng: np.random.Generator) -> None:
    """Checkout notes; most name the patron and give a phone number."""
    phone = np.where(people.mobile != None, people.mobile, people.phone)  # noqa: E711
    candidates = phone[L.patron] != None  # noqa: E711
    count = max(min(3, L.n), int(round(L.n * 0.004)))
    chosen = np.flatnonzero(candidates)
    chosen = np.sort(rng.choice(chosen, size=min(count, len(chosen)), replace=False)) if len(chosen) else chosen
    notes = np.full(L.n, None, dtype=object)
    template = rng.integers(0, 3, len(chosen)).tolist()
    for i, t in zip(chosen.tolist(), template):
        b = L.patron[i]
        first, last, ph = people.firstname[b], people.surname[b], phone[b]
        if t == 0:
            notes[i] = f"{first} {last} says the case was cracked at checkout; call {ph} if charged."
        elif t == 1:
            notes[i] = f"Pages 40-52 missing. {first}, {ph}"
        else:
            notes[i] = f"Renewal requested by phone ({ph}) - {first} {last}."
    L.note = notes
    later = L.t_issue + rng.integers(60, 6 * 3600, L.n)
    L.t_note = np.where(L.returned, np.minimum(later, L.t_ret), later)
    L.has_note = notes != None  # noqa: E711


def _summaries(L: Loans, people: People, cat: Catalogue) -> None:
    """Per-item and per-patron facts derived from the loans."""
    n_items = cat.n_items
    L.item_issues = np.bincount(L.item, minlength=n_items)
    L.item_renewals = np.bincount(L.item, weights=L.renewals, minlength=n_items).astype(np.int64)
    first_day = np.full(n_items, np.iinfo(np.int64).max)
    np.minimum.at(first_day, L.item, L.day)
    cat.accessioned = np.where(L.item_issues > 0, np.minimum(cat.accessioned, first_day - 1), cat.accessioned)
    last_issue = np.full(n_items, -1, dtype=np.int64)
    last_issue[L.item] = np.arange(L.n)  # later loans overwrite earlier ones
    L.item_last_issue = last_issue
    returned = np.flatnonzero(L.returned)
    by_return = returned[np.argsort(L.t_ret[returned], kind="stable")]
    last_return = np.full(n_items, -1, dtype=np.int64)
    last_return[L.item[by_return]] = by_return
    L.item_last_return = last_return
    on_loan = np.full(n_items, -1, dtype=np.int64)
    current = np.flatnonzero(L.current)
    on_loan[L.item[current]] = current
    L.item_on_loan = on_loan

    activity = np.maximum(np.maximum(L.t_issue, L.t_ret), L.last_ren_t)
    lastseen = np.full(people.n, -1, dtype=np.int64)
    np.maximum.at(lastseen, L.patron, activity)
    people.lastseen_t = np.maximum(people.lastseen_t, lastseen)
