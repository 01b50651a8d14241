"""The typed statistics request: which counts, by what, over which days, for whom.

Everything a caller (the CLI, a Prefect parameter form) passes in is checked
here against allow-lists before any database is touched: dimension and
measure names are exact ASCII names from :data:`DIMENSIONS` / :data:`MEASURES`
(so ``branch; DROP TABLE``, quotes and look-alike letters such as a Cyrillic
``а`` are simply unknown names), filter values are short plain codes, dates
are ISO days. A bad parameter is one :class:`~patronguard.errors.InputError`
line naming it. The query never builds SQL from these strings: names pick
pre-built SQLAlchemy expressions and values travel as bound parameters.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError

PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
DIMENSIONS: tuple[str, ...] = PERIODS + ("branch", "itemtype", "collection", "location", "patron_category",
                                         "age_band")
MEASURES: tuple[str, ...] = ("checkouts", "renewals", "returns", "distinct_patrons", "holds_placed",
                             "holds_filled", "new_registrations", "removed_patrons")

Dimension = Literal["day", "week", "month", "quarter", "year", "branch", "itemtype", "collection", "location",
                    "patron_category", "age_band"]
Measure = Literal["checkouts", "renewals", "returns", "distinct_patrons", "holds_placed", "holds_filled",
                  "new_registrations", "removed_patrons"]

#: a filter value is a code (branch, item type, collection, category, age band, period): nothing else
FILTER_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+?-]{0,79}$|^\?$")
REQUESTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,119}$")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PERIOD_VALUE = {
    "day": re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"),
    "week": re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"),
    "month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^\d{4}-Q[1-4]$"), "year": re.compile(r"^\d{4}$"),
}

PERIOD_EXAMPLE = {"day": "2026-03-01", "week": "2026-W09", "month": "2026-03", "quarter": "2026-Q1", "year": "2026"}


def _shown(value) -> str:
    """A bad value for a message: printable ASCII only, short (a patron value never reaches here: these are
    parameter names and codes)."""
    text = str(value)
    return repr("".join(c if " " <= c <= "~" else "?" for c in text[:40]) + ("…" if len(text) > 40 else ""))


def _names(value, allowed: tuple[str, ...], what: str) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"give one or more {what}s: {', '.join(allowed)}")
    out = []
    for name in value:
        if not isinstance(name, str) or name not in allowed:
            raise ValueError(f"unknown {what} {_shown(name)}; expected one of {', '.join(allowed)}")
        if name in out:
            raise ValueError(f"{what} {name} is given twice")
        out.append(name)
    return out


class StatsRequest(BaseModel):
    """One request for anonymised statistics (counts only; each released cell needs ``min_count`` patrons)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    by: list[Dimension] = Field(title="Break down by", description="Dimensions of the table, e.g. month, branch.",
                                examples=[["month", "branch"]])
    measures: list[Measure] = Field(default=["checkouts"], title="Measures", examples=[["checkouts", "renewals"]])
    from_day: dt.date | None = Field(default=None, alias="from", title="From (first day, included)")
    to_day: dt.date | None = Field(default=None, alias="to", title="To (last day, included)")
    where: dict[Dimension, str] = Field(default={}, title="Only where", examples=[{"branch": "CPL"}])
    requester: str = Field(title="Requester id", examples=["circ-desk-7"])
    min_count: int | None = Field(default=None, title="Minimum distinct patrons per released cell (k)", ge=1)
    wide_age_bands: bool = Field(default=False, title="Wide age bands",
                                 description="Count age bands as 0-17, 18-64 and 65+ instead of the narrow ones.")

    @field_validator("by", mode="before")
    @classmethod
    def _by(cls, value):
        names = _names(value, DIMENSIONS, "dimension")
        periods = [n for n in names if n in PERIODS]
        if len(periods) > 1:
            raise ValueError(f"at most one period ({', '.join(PERIODS)}); got {', '.join(periods)}")
        return names

    @field_validator("measures", mode="before")
    @classmethod
    def _measures(cls, value):
        return _names(value, MEASURES, "measure")

    @field_validator("from_day", "to_day", mode="before")
    @classmethod
    def _day(cls, value):
        if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if not isinstance(value, str) or not ISO_DAY.match(value):
            raise ValueError(f"{_shown(value)} is not a day (YYYY-MM-DD)")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{_shown(value)} is not a day of the calendar") from None

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value):
        if isinstance(value, (list, tuple)):
            pairs = {}
            for item in value:
                if not isinstance(item, str) or "=" not in item:
                    raise ValueError(f"{_shown(item)} is not DIM=VALUE")
                name, _, code = item.partition("=")
                if name.strip() in pairs:
                    raise ValueError(f"dimension {name.strip()} is filtered twice")
                pairs[name.strip()] = code.strip()
            value = pairs
        if not isinstance(value, dict):
            raise ValueError("expected DIM=VALUE filters")
        for name, code in value.items():
            if name not in DIMENSIONS:
                raise ValueError(f"unknown dimension {_shown(name)}; expected one of {', '.join(DIMENSIONS)}")
            if not isinstance(code, str) or not FILTER_VALUE.match(code):
                raise ValueError(f"{name}: {_shown(code)} is not a code (letters, digits, '_', '.', '+', '-')")
            if name in PERIOD_VALUE and not PERIOD_VALUE[name].match(code):
                raise ValueError(f"{name}: {_shown(code)} is not a {name} (e.g. {PERIOD_EXAMPLE[name]})")
        return value

    @field_validator("requester", mode="before")
    @classmethod
    def _requester(cls, value):
        if not isinstance(value, str) or not REQUESTER_ID.match(value):
            raise ValueError(f"{_shown(value)} is not a requester id (letters, digits, '.', '_', '@', '-')")
        return value

    @field_validator("min_count", mode="before")
    @classmethod
    def _min_count(cls, value):
        if isinstance(value, bool) or (isinstance(value, str) and not value.isdigit()):
            raise ValueError(f"{_shown(value)} is not a whole number")
        return int(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> "StatsRequest":
        if self.from_day and self.to_day and self.from_day > self.to_day:
            raise ValueError("the first day (--from) is after the last day (--to)")
        return self

    @property
    def grouping(self) -> tuple[str, ...]:
        """The dimensions counted by in the database: ``by`` and the filtered ones."""
        return tuple(self.by) + tuple(d for d in self.where if d not in self.by)


_PARAMETER = {"from_day": "--from", "to_day": "--to", "by": "--by", "measures": "--measures", "where": "--where",
              "requester": "--requester", "min_count": "--min-count", "from": "--from", "to": "--to",
              "wide_age_bands": "--wide-age-bands"}


def parse_stats_request(**raw) -> StatsRequest:
    """A :class:`StatsRequest` from raw parameters, or one :class:`InputError` line naming the parameter."""
    try:
        return StatsRequest(**raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error["loc"][0] if error["loc"] else ""
        name = _PARAMETER.get(str(where), f"--{str(where).replace('_', '-')}" if where else "--from")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = f"unknown name {_shown(error.get('input'))}"
        elif error["type"] == "extra_forbidden":
            message = "is not a parameter of a statistics request"
        raise InputError(f"{name}: {message}") from None
