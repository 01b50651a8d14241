"""The two rules of disclosure control: who may be counted, and how well a hidden count is hidden.

**Minimum-cell (threshold) rule** — as statistical agencies publish it (e.g. the
frequency rule of τ-ARGUS / sdcTable's ``primarySuppression(type="freq")``,
and the minimum-cell-size rules of national statistics offices): a count may
be released only if at least *k* distinct patrons stand behind it. *k* is a
policy setting (default 10); a request may raise it, never lower it below the
policy floor. A cell with a count of 0 is not sensitive: nobody is in it.

**Protection rule** (what complementary suppression must achieve): someone
holding every released figure solves for a suppressed count by linear
programming and gets an interval [lo, hi]. Counts are whole numbers, so the
values still possible are the integers ceil(lo) .. floor(hi). The count is
*protected* when no window "m ± p" covers them all, i.e. when

    floor(hi) - ceil(lo) >= 2·p + 1        (p ≥ 1; default p = 1)

With p = 1 at least four whole values remain possible: the count can be
pinned neither exactly nor to within ±1. (The brief's "hi − lo ≥ 2p" would
still let an interval like [3, 5] through, which *is* "4 ± 1"; we take the
strict form.) Unlike τ-ARGUS's upper/lower protection levels around the true
value, the rule looks only at the width, so it holds for a count of 1 too
(which can never be 1 below its true value).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError

#: Policy floor of distinct patrons behind a released count, unless the policy says otherwise.
DEFAULT_MIN_PATRONS = 10
_SLACK = 1e-6  # LP bounds are floats: 4.9999999 is the integer 5


def minimum_patrons(requested: int | None = None, *, policy_floor: int = DEFAULT_MIN_PATRONS) -> int:
    """The k a request gets: the policy floor, or a higher k it asks for; lower is refused."""
    if isinstance(policy_floor, bool) or not isinstance(policy_floor, int) or policy_floor < 1:
        raise InputError(f"policy minimum of distinct patrons per cell must be a whole number ≥ 1, not {policy_floor!r}")
    if requested is None:
        return policy_floor
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise InputError(f"--min-count must be a whole number, not {requested!r}")
    if requested < policy_floor:
        raise InputError(f"--min-count {requested} is below the policy floor of {policy_floor} distinct patrons "
                         "per released cell; a request may raise it, never lower it")
    return requested


@dataclass(frozen=True)
class ProtectionRule:
    """A suppressed count is protected when its feasible whole values cannot be covered by ``m ± p``."""

    p: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, int) or self.p < 1:
            raise InputError(f"protection level p must be a whole number ≥ 1, not {self.p!r}")

    @property
    def min_width(self) -> int:
        """Least whole-number width floor(hi) - ceil(lo) of a protected count."""
        return 2 * self.p + 1

    def width(self, lo: float, hi: float) -> float:
        if math.isinf(hi):
            return math.inf
        return math.floor(hi + _SLACK) - math.ceil(lo - _SLACK)

    def is_protected(self, lo: float, hi: float) -> bool:
        return self.width(lo, hi) >= self.min_width
