"""Holds: filled, cancelled or expired ones in old_reserves, open ones in reserves.

About 8 % of the loan volume: 5 % are holds that were filled by one of the
loans (placed up to three weeks before the checkout, waiting on the hold
shelf for a few days, ``found = 'F'``), 2 % were cancelled or expired, and
1 % are still open at ``until`` (waiting ``'W'``, in transit ``'T'`` or
queued with a priority). Both tables share one ``reserve_id`` space,
numbered by the time the hold was placed. Staff notes on some holds say
whom to call at which number.
"""
from __future__ import annotations

import numpy as np

from .generate_catalogue import Catalogue
from .generate_circulation import Loans
from .generate_people import KIND_ANON, People
from .generate_util import DAY, Calendar

OPEN_, FILLED, CANCELLED = 0, 1, 2


class Holds:
    """Arrays in ``reserve_id`` order (index ``k`` is reserve_id ``k + 1``)."""


def build_holds(cal: Calendar, people: People, cat: Catalogue, loans: Loans,
                rng: np.random.Generator) -> Holds:
    D = cal.days
    parts = []

    # Filled by a loan.
    eligible = np.flatnonzero(loans.day >= 3)
    n_f = min(len(eligible), int(round(loans.n * 0.05)))
    src = np.sort(rng.choice(eligible, size=n_f, replace=False)) if n_f else eligible[:0]
    patron = loans.patron[src]
    day = loans.day[src]
    earliest = np.maximum(np.maximum(people.enrolled[patron], 0), day - 21)
    placed = earliest + (rng.random(n_f) * (day - earliest + 1)).astype(np.int64)
    waiting = placed + (rng.random(n_f) * (day - placed + 1)).astype(np.int64)
    placed_t = placed * DAY + cal.opening_seconds(rng, n_f)
    waiting_t = np.minimum(waiting * DAY + cal.opening_seconds(rng, n_f), loans.t_issue[src] - 60)
    waiting_t = np.maximum(waiting_t, placed_t)
    parts.append(dict(state=np.full(n_f, FILLED), patron=patron, item=loans.item[src],
                      branch=loans.branch[src], placed=placed, placed_t=placed_t, waiting_t=waiting_t,
                      end_t=loans.t_issue[src], found=np.full(n_f, "F", dtype=object),
                      priority=np.zeros(n_f, dtype=np.int64)))

    # Cancelled or expired.
    weight = people.weight / people.weight.sum()
    n_c = int(round(loans.n * 0.02))
    patron = rng.choice(people.n, size=n_c, p=weight)
    placed = cal.draw_days(rng, people.win_lo[patron], people.win_hi[patron])
    placed_t = placed * DAY + cal.opening_seconds(rng, n_c)
    limit = np.where(people.deleted[patron], people.deleted_t[patron] // DAY, D - 1)
    end_day = np.maximum(np.minimum(placed + rng.integers(1, 120, n_c), limit), placed)
    end_t = np.maximum(end_day * DAY + cal.opening_seconds(rng, n_c), placed_t + 60)
    end_t = np.where(people.deleted[patron], np.minimum(end_t, people.deleted_t[patron]), end_t)
    end_t = np.minimum(end_t, cal.end - 1)
    parts.append(dict(state=np.full(n_c, CANCELLED), patron=patron,
                      item=rng.choice(cat.n_items, size=n_c, p=cat.weight),
                      branch=people.branch[patron], placed=placed, placed_t=placed_t,
                      waiting_t=np.full(n_c, -1), end_t=end_t, found=np.full(n_c, None, dtype=object),
                      priority=rng.integers(1, 5, n_c)))

    # Still open at the end of the history.
    active = (people.win_hi >= D) & ~people.deleted & (people.kind != KIND_ANON) & (people.weight > 0)
    n_o = int(round(loans.n * 0.01)) if active.any() else 0
    w = np.where(active, people.weight, 0.0)
    patron = rng.choice(people.n, size=n_o, p=w / w.sum()) if n_o else np.empty(0, np.int64)
    placed = np.maximum(D - 1 - rng.integers(0, 45, n_o), people.win_lo[patron])
    placed_t = placed * DAY + cal.opening_seconds(rng, n_o)
    status = rng.random(n_o)
    found = np.select([status < 0.3, status < 0.4], ["W", "T"], "").astype(object)
    found[found == ""] = None
    wait_day = np.maximum(placed, D - 1 - rng.integers(0, 7, n_o))
    waiting_t = np.where(found == "W", np.maximum(wait_day * DAY + cal.opening_seconds(rng, n_o), placed_t), -1)
    waiting_t = np.minimum(waiting_t, cal.end - 1)
    parts.append(dict(state=np.full(n_o, OPEN_), patron=patron,
                      item=rng.choice(cat.n_items, size=n_o, p=cat.weight), branch=people.branch[patron],
                      placed=placed, placed_t=placed_t, waiting_t=waiting_t, end_t=np.full(n_o, -1),
                      found=found, priority=np.where(found == None, rng.integers(1, 6, n_o), 0)))  # noqa: E711

    h = Holds()
    for key in parts[0]:
        setattr(h, key, np.concatenate([p[key] for p in parts]))
    order = np.argsort(h.placed_t, kind="stable")
    for key in parts[0]:
        setattr(h, key, getattr(h, key)[order])
    h.n = len(order)
    h.biblio = cat.biblio[h.item]
    h.item_known = (h.state == FILLED) | (h.found != None)  # noqa: E711
    h.current = h.state == OPEN_
    h.patron_deleted = people.deleted[h.patron]
    h.waiting_day = np.where(h.waiting_t >= 0, h.waiting_t // DAY, -1)
    h.expires = np.where(h.waiting_t >= 0, h.waiting_day + 7, -1)
    h.expired = (h.state == CANCELLED) & (rng.random(h.n) < 0.35)
    h.reservenotes = _notes(h, people, rng)
    return h


def _notes(h: Holds, people: People, rng: np.random.Generator) -> np.ndarray:
    notes = np.full(h.n, None, dtype=object)
    count = min(h.n, max(2, int(round(h.n * 0.12))))
    if not count:
        return notes
    chosen = np.sort(rng.choice(h.n, size=count, replace=False))
    template = rng.integers(0, 3, count).tolist()
    for i, t in zip(chosen.tolist(), template):
        b = h.patron[i]
        first, last, phone = people.firstname[b], people.surname[b], people.mobile[b] or people.phone[b]
        if phone and t == 0:
            notes[i] = f"Call {first} at {phone} when it comes in."
        elif phone and t == 1:
            notes[i] = f"{first} {last} wants the large print edition if possible; phone {phone}."
        else:
            notes[i] = f"Book club copy for {first} {last} - hold at the front desk."
    return notes
