"""One question released over nested periods: the difference of the two releases is a table too.

Released for 1 January–31 October and then for 1 January–30 November, a table of checkouts by branch gives
away November by branch: the second figure minus the first. Each release alone respects k; their difference
need not (the classic differencing attack on tables with overlapping periods). So, before a release, the
earlier releases of the same question (dimensions and filters) whose period holds, or is held by, this one
(:func:`patronguard.stats.releases.nested_releases`) are looked at:

1. The *difference table* — the days in one period and not the other — is counted like any table
   (warehouse + live, merged), its distinct patrons the largest of its parts' (a lower bound: it errs on the
   side of hiding).
2. Every figure the earlier release published whose difference has a count above 0 and fewer than k distinct
   patrons is hidden now (:func:`forced_keys`): a primary suppression like any other, with complementary
   suppression around it.
3. Hidden, such a figure is still bounded by the earlier one (a longer period's count is at least the
   shorter's). :func:`check_difference_protected` adds that bound to each such figure's LP interval and
   refuses the release, in one line, if the difference could then be worked out to within the protection
   rule (exactly or to ±1).

Partly overlapping periods (March–August, then June–November) are not nested: their difference is a
difference of two periods' cells, never one cell, and is not checked. Tables of the same question at the same
period are one table: :mod:`patronguard.stats.releases` keeps their figures identical.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError
from .table import TOTAL, Key, key_text

#: counts a period (first day or None for "since the first loan", last day) of the request's question
CountPeriod = Callable[[dt.date | None, dt.date], object]   # -> StatsCounts


@dataclass(frozen=True)
class DifferenceBound:
    """What an earlier release says of a figure hidden now: its published value, and whether this period is
    the longer one (then the figure is at least that value) or the shorter (at most)."""

    earlier_value: int
    now_longer: bool
    earlier_period: str


def difference_periods(first: dt.date | None, last: dt.date, other_first: dt.date | None,
                       other_last: dt.date) -> list[tuple[dt.date | None, dt.date]]:
    """The days in one of two nested periods and not the other, as at most two periods."""
    lo, other_lo = first or dt.date.min, other_first or dt.date.min
    (o_first, o_last), (i_first, i_last) = (((lo, last), (other_lo, other_last)) if lo <= other_lo and other_last <= last
                                            else ((other_lo, other_last), (lo, last)))
    parts: list[tuple[dt.date | None, dt.date]] = []
    if o_first < i_first:
        parts.append((None if o_first == dt.date.min else o_first, i_first - dt.timedelta(days=1)))
    if i_last < o_last:
        parts.append((i_last + dt.timedelta(days=1), o_last))
    return parts


def _with_margins(cells: dict[Key, tuple[int, int]]) -> dict[Key, tuple[int, int]]:
    """Every interior cell and every total over any of its dimensions: (count summed, patrons' largest part)."""
    out: dict[Key, list[int]] = {}
    for key, (value, patrons) in cells.items():
        for mask in itertools.product((False, True), repeat=len(key)):
            total = tuple(TOTAL if summed else part for part, summed in zip(key, mask))
            slot = out.setdefault(total, [0, 0])
            slot[0] += value
            slot[1] = max(slot[1], patrons)
    return {key: (v, p) for key, (v, p) in out.items()}


def difference_cells(parts: list, measure: str) -> dict[Key, tuple[int, int]]:
    """(count, distinct patrons lower bound) per key of the difference of two nested periods' tables, from the
    counts of its parts (:func:`difference_periods`)."""
    cells: dict[Key, list[int]] = {}
    for counts in parts:
        for key, value in counts.values.get(measure, {}).items():
            slot = cells.setdefault(key, [0, 0])
            slot[0] += value
            slot[1] = max(slot[1], counts.patrons.get(measure, {}).get(key, 0))
    return _with_margins({key: (v, p) for key, (v, p) in cells.items()})


def _period_text(first: dt.date | None, last: dt.date) -> str:
    return f"{first.isoformat() if first else 'the first loan'} to {last.isoformat()}"


def forced_keys(request, earlier: list, k: int, count_period: CountPeriod,
                measures: list[str]) -> dict[str, dict[Key, DifferenceBound]]:
    """Per measure, the keys to hide now so that no earlier nested release can be differenced with this one
    into a figure of fewer than ``k`` patrons, each with the bound the earlier release still gives."""
    out: dict[str, dict[Key, DifferenceBound]] = {m: {} for m in measures}
    for release in earlier:
        parts = [count_period(first, last) for first, last in
                 difference_periods(request.from_day, request.to_day, release.first_day, release.last_day)]
        now_longer = ((request.from_day or dt.date.min) <= (release.first_day or dt.date.min)
                      and release.last_day <= request.to_day)
        for measure in measures:
            published = release.figures.get(measure, {})
            for key, (value, patrons) in difference_cells(parts, measure).items():
                if key in published and value > 0 and patrons < k:
                    bound = DifferenceBound(published[key], now_longer,
                                            _period_text(release.first_day, release.last_day))
                    kept = out[measure].get(key)
                    # several earlier releases: keep the tightest bound (largest lower, smallest upper)
                    if kept is None or (now_longer and bound.earlier_value > kept.earlier_value) or (
                            not now_longer and bound.earlier_value < kept.earlier_value):
                        out[measure][key] = bound
    return out


def check_difference_protected(result, bounds: dict[Key, DifferenceBound], measure: str) -> None:
    """Refuse (one line) when a figure hidden against differencing is still pinned down once the earlier
    release's bound is added to what this release publishes."""
    from .audit import protection_intervals

    keys = [key for key in bounds if key in result.suppressed]
    if not keys:
        return
    intervals = protection_intervals(result.table, set(result.suppressed), result.released_margins(), of=set(keys))
    for key in sorted(keys, key=result.table.index_of):
        lo, hi = intervals[key]
        bound = bounds[key]
        lo, hi = (max(lo, bound.earlier_value), hi) if bound.now_longer else (lo, min(hi, bound.earlier_value))
        if not result.rule.is_protected(lo, hi):
            raise InputError(
                f"--from/--to: {measure} {key_text(key)} was released for {bound.earlier_period}; with this period "
                f"the difference (fewer than {result.k} patrons) could be worked out — ask for the days between on "
                "their own, or for the same period as before")
