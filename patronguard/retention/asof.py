"""The date a run is judged at, and each record class's cutoff."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..errors import InputError


def library_today(tz: ZoneInfo) -> dt.date:
    return dt.datetime.now(tz).date()


def resolve_as_of(value: str | dt.date | None, tz: ZoneInfo, *, option: str = "--as-of") -> dt.date:
    """Parse ``YYYY-MM-DD`` (default, when not given at all: today in the library's time zone); refuse an
    empty or malformed day (ASCII digits only, 1900 on) and the future."""
    from ..datafiles import check_day

    today = library_today(tz)
    if value is None:
        return today
    if isinstance(value, dt.datetime):
        value = value.date()
    try:
        value = check_day(value, dt.date.max)  # a later day is refused below as in the future
    except ValueError as error:
        raise InputError(f"{option}: {error}") from None
    if value > today:
        raise InputError(f"{option}: {value.isoformat()} is in the future (today is {today.isoformat()} in {tz.key})")
    return value


def cutoff_for(as_of: dt.date, keep_days: int) -> dt.date:
    """Rows whose age date is before this day are past retention."""
    return as_of - dt.timedelta(days=keep_days)
