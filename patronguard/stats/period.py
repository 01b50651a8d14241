"""The days a statistics table covers: closed days only, pinned before anything is counted.

A table over a period still going on changes while it is asked: released today and again tomorrow, the two
differ by a day's loans, and their difference is a table nobody checked against k. So a table never ends on a
day that is not over in the library's time zone (the policy's ``timezone``):

* no ``--to``: the table ends with the last complete month (asked on any day of December, it is the same
  table, up to 30 November — the same question gets the same figures, which
  :mod:`patronguard.stats.releases` then keeps);
* ``--to`` today or later: refused with one line;
* ``removed_patrons`` (kept by expiry year) ends, without ``--to``, with the last complete year.

Nested periods of one question (January–October, then January–November) are checked by
:mod:`patronguard.stats.overlap`.
"""
from __future__ import annotations

import datetime as dt

from ..errors import InputError


def last_closed_month_end(today: dt.date) -> dt.date:
    """The last day of the month before ``today``'s."""
    return today.replace(day=1) - dt.timedelta(days=1)


def closed_period(request, today: dt.date, zone: str = ""):
    """``request`` with its last day pinned (see the module docstring), or one :class:`InputError` line."""
    where = f" in {zone}" if zone else ""
    if request.to_day is not None:
        if request.to_day >= today:
            raise InputError(f"--to: {request.to_day.isoformat()} is not over yet (today is {today.isoformat()}"
                             f"{where}); a statistics table covers closed days only — give a day before today")
        return request
    last = (dt.date(today.year - 1, 12, 31) if "removed_patrons" in request.measures
            else last_closed_month_end(today))
    if request.from_day is not None and request.from_day > last:
        raise InputError(f"--from: no month from {request.from_day.isoformat()} is over yet (today is "
                         f"{today.isoformat()}{where}); give --to, a day before today")
    return request.model_copy(update={"to_day": last})


def period_text(request) -> str:
    """"2026-01-01 to 2026-11-30", or "the first loan to …"."""
    first = request.from_day.isoformat() if request.from_day else "the first loan"
    return f"{first} to {request.to_day.isoformat() if request.to_day else 'today'}"
