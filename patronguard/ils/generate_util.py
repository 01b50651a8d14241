"""Shared helpers of the synthetic-library generator.

Time is handled as integers so that millions of events stay in numpy:
a *day* is the number of days since the first day of the history
(:attr:`Calendar.start`, day 0; negative before it) and a *moment* is the
number of seconds since midnight of that day. :class:`Formatter` turns them
into the ISO strings every backend accepts for DATE/DATETIME columns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import repeat

import numpy as np

DAY = 86_400
OPENS = 9 * 3600           # branches open 09:00 …
OPEN_FOR = 11 * 3600       # … and close at 20:00
DUE_TIME = 23 * 3600 + 59 * 60  # Koha's due time: 23:59

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
_WEEKDAY_WEIGHT = np.array([1.0, 1.0, 1.0, 1.05, 0.95, 0.8, 0.35])


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Calendar:
    """The history's days and how busy each one is (season, weekday, holidays)."""

    start: dt.date
    until: dt.date
    days: int
    cdf: np.ndarray  # cdf[k] = total weight of days 0..k-1 (length days + 1)

    @classmethod
    def build(cls, until: dt.date, years: int) -> "Calendar":
        start = _years_before(until, years) + dt.timedelta(days=1)
        days = (until - start).days + 1
        first = np.datetime64(start, "D")
        dates = first + np.arange(days)
        epoch_days = dates.astype(np.int64)
        weekday = (epoch_days + _EPOCH_WEEKDAY) % 7
        month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        mday = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
        doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
        weight = (1.0 + 0.22 * np.cos(2 * np.pi * (doy - 196) / 365.25)) * _WEEKDAY_WEIGHT[weekday]
        closed = ((month == 1) & (mday == 1)) | ((month == 7) & (mday == 4)) | ((month == 12) & (mday == 25))
        closed |= (month == 11) & (weekday == 3) & (mday >= 22) & (mday <= 28)  # Thanksgiving
        weight[closed] = 0.0
        cdf = np.concatenate(([0.0], np.cumsum(weight)))
        return cls(start=start, until=until, days=days, cdf=cdf)

    @property
    def end(self) -> int:
        """First moment after the history (midnight after ``until``)."""
        return self.days * DAY

    def day_of(self, date: dt.date) -> int:
        return (date - self.start).days

    def draw_days(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One day per entry in [lo, hi) (hi > lo, both within 0..days), busy days likelier."""
        lo = np.clip(lo, 0, self.days - 1)
        hi = np.clip(hi, lo + 1, self.days)
        c_lo, c_hi = self.cdf[lo], self.cdf[hi]
        u = c_lo + rng.random(len(lo)) * (c_hi - c_lo)
        day = np.searchsorted(self.cdf, u, side="right") - 1
        return np.clip(day, lo, hi - 1)

    @staticmethod
    def opening_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
        """Times of day within opening hours, in seconds."""
        return OPENS + rng.integers(0, OPEN_FOR, n)


class Formatter:
    """ISO text for day/moment arrays, as object arrays (``None`` where masked).

    SQLite gets SQLAlchemy's own storage format (``YYYY-MM-DD HH:MM:SS.ffffff``)
    so that comparisons with values bound by SQLAlchemy are exact; MariaDB and
    PostgreSQL get ``YYYY-MM-DD HH:MM:SS``.
    """

    def __init__(self, start: dt.date, dialect: str) -> None:
        self._origin_s = np.datetime64(start, "s")
        self._origin_d = np.datetime64(start, "D")
        self._unit = "us" if dialect == "sqlite" else "s"

    def moments(self, seconds: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
        seconds = np.asarray(seconds, dtype=np.int64)
        if len(seconds) == 0:
            return np.empty(0, dtype=object)
        stamps = (self._origin_s + seconds.astype("timedelta64[s]")).astype(f"datetime64[{self._unit}]")
        text = np.datetime_as_string(stamps)
        text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")
        out = text.astype(object)
        if null is not None:
            out[null] = None
        return out

    def days(self, days: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
        days = np.asarray(days, dtype=np.int64)
        if len(days) == 0:
            return np.empty(0, dtype=object)
        out = np.datetime_as_string(self._origin_d + days.astype("timedelta64[D]")).astype(object)
        if null is not None:
            out[null] = None
        return out

    def moment(self, seconds: int) -> str:
        return self.moments(np.array([seconds]))[0]

    def day(self, day: int) -> str:
        return self.days(np.array([day]))[0]


def objects(values) -> np.ndarray:
    """A 1-d object array of ``values`` (keeps the very same Python objects)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return out


def luhn_numbers(prefix: str, serials: np.ndarray, width: int = 14) -> list[str]:
    """``prefix`` + zero-padded serial + a Luhn check digit, ``width`` digits in all.

    Koha sites print Codabar barcodes like these on cards and items.
    """
    body_len = width - 1
    serial_len = body_len - len(prefix)
    serials = np.asarray(serials, dtype=np.int64)
    if np.any(serials >= 10 ** serial_len) or np.any(serials < 0):
        raise ValueError("serial does not fit the barcode width")
    digits = np.empty((len(serials), body_len), dtype=np.int64)
    digits[:, : len(prefix)] = [int(c) for c in prefix]
    rest = serials.copy()
    for col in range(body_len - 1, len(prefix) - 1, -1):
        digits[:, col] = rest % 10
        rest //= 10
    # Double every second digit from the right of the body (the check digit comes after it).
    doubled = digits[:, ::-1].copy()
    doubled[:, 0::2] *= 2
    doubled[doubled > 9] -= 9
    check = (10 - doubled.sum(axis=1) % 10) % 10
    body = [prefix + str(s).zfill(serial_len) for s in serials.tolist()]
    return [b + str(c) for b, c in zip(body, check.tolist())]


def pick(rng: np.random.Generator, count: int, mask: np.ndarray) -> np.ndarray:
    """``count`` distinct indices where ``mask`` is true (fewer if not enough), sorted."""
    candidates = np.flatnonzero(mask)
    count = min(count, len(candidates))
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(candidates, size=count, replace=False))


def hex_tokens(rng: np.random.Generator, n: int, length: int = 32) -> list[str]:
    raw = rng.integers(0, 16, size=(n, length))
    alphabet = np.array(list("0123456789abcdef"))
    return ["".join(row) for row in alphabet[raw].tolist()]


@dataclass
class Columns:
    """One table's rows, column by column (lists, numpy arrays or :class:`Const`)."""

    table: str
    names: list[str]
    values: list

    def __len__(self) -> int:
        return min(len(v) for v in self.values if not isinstance(v, Const))


class Const:
    """A column with the same value in every row (for :func:`chunks`)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


def chunks(columns: list, size: int):
    """Yield lists of row tuples, ``size`` rows at a time.

    Each column is a list, a numpy array (turned into Python values with
    ``tolist``) or a :class:`Const`; at least one must be a sequence.
    """
    lists = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]
    total = min(len(c) for c in lists if not isinstance(c, Const))
    for begin in range(0, total, size):
        end = min(begin + size, total)
        yield list(zip(*(repeat(c.value, end - begin) if isinstance(c, Const) else c[begin:end]
                         for c in lists)))
