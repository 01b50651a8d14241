"""Primary and complementary (secondary) cell suppression of a count table.

Primary: every key (interior cell or margin) with a count above 0 and fewer than
k distinct patrons is suppressed — marked, never shown as 0.

Complementary: hiding the sensitive counts is not enough when they can be
solved for from what is released (row, column, grand and every other
marginal total, plus figures published earlier for the same table, which must
stay as published). This is the secondary cell suppression problem that
τ-ARGUS and the R package sdcTable solve (their ``HYPERCUBE`` / ``GHMITER``
method); no maintained Python package does it, so the heuristic is written
here, after the hypercube method:

* For a sensitive key, pick a "hypercube" of 2^n keys containing it and
  suppress them all. Along each dimension the cube either *swaps* the key's
  category with another one (totals over that dimension do not move) or pairs
  it with the dimension's *total* (a margin moves with the cell — used for a
  margin or when a dimension has one category). Adding +t to the corners of
  one parity and −t to the others keeps every key outside the cube fixed,
  so every published figure still holds: each suppressed corner can move by
  ``t ∈ [−down, +up]`` (``down``/``up`` the smallest corner of each parity).
  That is a certificate: the LP interval of every corner is at least that wide.
* Among the cubes whose certificate meets the protection rule and that avoid
  earlier-published keys, take the one that suppresses the fewest new interior
  cells (then fewest new margins, then least new total count), first in table
  order on ties — deterministic. Numpy evaluates all cubes of a key at once.
* Keys left without a certificate (no single cube is wide enough: tiny
  counts, or published keys in the way) are checked by the LP audit, and more
  cubes are added until the audit passes; with ``lp_audit="all"`` the LP audit
  also re-checks every suppressed key after the heuristic.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

import numpy as np

from ..errors import InputError
from .audit import protection_intervals, unprotected
from .rules import DEFAULT_MIN_PATRONS, ProtectionRule, minimum_patrons
from .table import CountTable, Key, key_text

#: How a suppressed count is written out (never 0).
SUPPRESSED_MARK = "x"
_MAX_FALLBACK_ROUNDS = 50
_LP_AUDIT_ALL_UP_TO = 200  # "auto": LP-audit every suppressed key up to this many (~20 ms a key at 200-500)


@dataclass(frozen=True)
class SuppressionResult:
    """Which keys of ``table`` are released, which are hidden and why."""

    table: CountTable
    k: int
    rule: ProtectionRule
    primary: frozenset[Key]
    secondary: frozenset[Key]
    #: Published before (``released_before``), or worked out from what was, and so left as published although
    #: now sensitive; ``released_before`` of the result lists the latter too.
    published_sensitive: frozenset[Key]
    #: Per suppressed key, the attacker's interval: from the LP audit (``lp_audited``) or, at scale,
    #: the hypercube certificate — an inner bound of it, already wide enough under ``rule``.
    intervals: dict[Key, tuple[float, float]] = field(repr=False)
    released_before: dict[Key, int] = field(repr=False)
    lp_audited: frozenset[Key] = frozenset()
    #: Hidden because an earlier release of this question for a nested period would otherwise give away a
    #: difference of fewer than k patrons (:mod:`patronguard.stats.overlap`); counted with ``primary``.
    differencing: frozenset[Key] = frozenset()

    @property
    def suppressed(self) -> frozenset[Key]:
        return self.primary | self.secondary

    def status(self, key: Key) -> Literal["released", "primary", "secondary"]:
        self.table.index_of(key)
        return "primary" if key in self.primary else "secondary" if key in self.secondary else "released"

    def shown(self, key: Key) -> int | str:
        """The count as released, or :data:`SUPPRESSED_MARK`."""
        return SUPPRESSED_MARK if key in self.suppressed else self.table.value(key)

    def released_margins(self) -> dict[Key, int]:
        """Every published margin (and earlier-published figure) with the number as published."""
        out = {k: self.table.value(k) for k in self.table.margin_keys() if k not in self.suppressed}
        out.update(self.released_before)
        return out

    def rows(self, *, margins: bool = True) -> list[dict[str, object]]:
        """One dict per key in table order, for CSV/HTML: the dimensions ("*" for a total), ``count``
        (the number or :data:`SUPPRESSED_MARK`), ``status`` and ``reason``."""
        keys = list(self.table.interior_keys()) + (list(self.table.margin_keys()) if margins else [])
        out = []
        for key in sorted(keys, key=lambda k: (sum(p is None for p in k), self.table.index_of(k))):
            row: dict[str, object] = {d: ("*" if p is None else p) for d, p in zip(self.table.dimensions, key)}
            row.update(count=self.shown(key), status=self.status(key), reason=self.reason(key))
            out.append(row)
        return out

    def reason(self, key: Key) -> str:
        status = self.status(key)
        if status == "primary" and key in self.differencing:
            return (f"with the release of this table for another period, the difference would show fewer than "
                    f"{self.k} distinct patrons")
        if status == "primary":
            return f"fewer than {self.k} distinct patrons"
        if status == "secondary":
            return "hidden so that suppressed counts cannot be worked out from the totals"
        if key in self.published_sensitive:
            return f"fewer than {self.k} distinct patrons, but published before (or follows from what was)"
        return ""


def sensitive_keys(table: CountTable, k: int) -> set[Key]:
    """Keys (interior and margins) with a count above 0 and fewer than k distinct patrons."""
    at = np.argwhere((table.values > 0) & (table.patrons < k))
    return {table.key_at(tuple(i)) for i in at}


def suppress(
    table: CountTable,
    *,
    k: int | None = None,
    policy_floor: int = DEFAULT_MIN_PATRONS,
    released_before: Mapping[Key, int] | None = None,
    rule: ProtectionRule = ProtectionRule(),
    lp_audit: Literal["auto", "all", "uncertified"] = "auto",
    must_hide: Iterable[Key] = (),
) -> SuppressionResult:
    """Suppress every count with fewer than k distinct patrons, and enough others that none can be recovered.

    ``k`` is the request's minimum (``None``: the policy floor; below the floor:
    :class:`InputError`). ``released_before`` maps keys of this table published
    earlier to the number published; they stay released and the pattern protects
    against them too. Same input, same pattern.
    """
    k = minimum_patrons(k, policy_floor=policy_floor)
    published = _check_published(table, released_before or {})
    locked = np.zeros(table.values.shape, dtype=bool)
    for key in published:
        locked[table.index_of(key)] = True

    sensitive = sensitive_keys(table, k)
    published_sensitive = frozenset(key for key in sensitive if key in published)
    forced = frozenset(key for key in must_hide if key not in published and table.has(key) and table.value(key) > 0)
    primary = (sensitive - published_sensitive) | forced
    hidden = np.zeros(table.values.shape, dtype=bool)
    for key in primary:
        hidden[table.index_of(key)] = True

    cubes = _Hypercubes(table, rule, locked)
    certified: dict[tuple[int, ...], tuple[float, float]] = {}
    # finest keys first (interior cells before margins), then table order: deterministic
    order = sorted((table.index_of(key) for key in primary),
                   key=lambda at: (sum(j == s for j, s in zip(at, table.shape)), at))
    uncertified = []
    for at in order:
        if at in certified:
            continue
        if not cubes.protect(at, hidden, certified, require_width=True):
            uncertified.append(at)

    if uncertified and published:
        # a count the earlier release already gives away (say a total over a one-category dimension equal to a
        # published cell) cannot be protected by anything hidden now: it counts as published, and we start over
        given_away = _given_away(table, published, {table.key_at(at) for at in uncertified}, rule)
        if given_away:
            return suppress(table, k=k, policy_floor=policy_floor, released_before={**published, **given_away},
                            rule=rule, lp_audit=lp_audit, must_hide=must_hide)

    for _ in range(_MAX_FALLBACK_ROUNDS):
        # LP audit of what the cubes could not certify; add the widest remaining cube to what stays unprotected
        suspects = {table.key_at(at) for at in uncertified}
        suspects |= {table.key_at(tuple(at)) for at in np.argwhere(hidden)} - {table.key_at(at) for at in certified}
        if not suspects:
            break
        found = _lp(table, hidden, published, suspects)
        for key, interval in found.items():
            if rule.is_protected(*interval):
                certified[table.index_of(key)] = interval
        uncertified = [table.index_of(key) for key in unprotected(found, rule)]
        if not uncertified:
            break
        before = int(hidden.sum())
        for at in uncertified:
            cubes.protect(at, hidden, certified, require_width=False)
        if int(hidden.sum()) == before:
            break  # nothing left to hide around them
    if uncertified:
        raise InputError(f"cannot hide the small counts of this table ({len(uncertified)} left recoverable "
                         "from the published totals); ask for a coarser table or generalise")

    suppressed_keys = {table.key_at(tuple(at)) for at in np.argwhere(hidden)}
    intervals = {table.key_at(at): certified[at] for at in certified}
    audited: frozenset[Key] = frozenset()
    if lp_audit == "all" or (lp_audit == "auto" and len(suppressed_keys) <= _LP_AUDIT_ALL_UP_TO):
        found = _lp(table, hidden, published, suppressed_keys)
        bad = unprotected(found, rule)
        if bad:  # a certificate is a proof, so this means a bug, not bad input
            raise AssertionError(f"LP audit disagrees with the hypercube certificates on {key_text(bad[0])}")
        intervals.update(found)
        audited = frozenset(found)
    return SuppressionResult(
        table=table, k=k, rule=rule, primary=frozenset(primary), secondary=frozenset(suppressed_keys - primary),
        published_sensitive=published_sensitive, intervals=intervals, released_before=dict(published),
        lp_audited=audited, differencing=forced,
    )


def _check_published(table: CountTable, released_before: Mapping[Key, int]) -> dict[Key, int]:
    for key, number in released_before.items():
        table.index_of(key)
        if number != table.value(key):
            raise InputError(f"this table was released before with another count for {key_text(key)}: the data "
                             "behind it changed since, and a second, different figure next to the first would give "
                             "away the difference; ask for a closed period (--to in the past) or another breakdown")
    return dict(released_before)


def _given_away(table: CountTable, published: Mapping[Key, int], keys: set[Key], rule: ProtectionRule) -> dict[Key, int]:
    """Those of ``keys`` the published figures pin down even if everything else were hidden."""
    everything_else = {key for key in itertools.chain(table.interior_keys(), table.margin_keys())
                       if key not in published}
    found = protection_intervals(table, everything_else, published, of=keys)
    return {key: table.value(key) for key in unprotected(found, rule)}


def _lp(table: CountTable, hidden: np.ndarray, published: Mapping[Key, int], of) -> dict[Key, tuple[float, float]]:
    suppressed = {table.key_at(tuple(at)) for at in np.argwhere(hidden)}
    released = {k: table.value(k) for k in table.margin_keys() if k not in suppressed}
    released.update(published)
    return protection_intervals(table, suppressed, released, of=of)


class _Hypercubes:
    """Evaluates, with numpy, every hypercube through a key at once and suppresses the best."""

    def __init__(self, table: CountTable, rule: ProtectionRule, locked: np.ndarray) -> None:
        self.table, self.rule, self.locked = table, rule, locked
        self.values = table.values.astype(float)
        interior = table.values.size and int(table.values.max()) + 1  # one more new cell outweighs any count
        is_margin = np.zeros(table.values.shape, dtype=bool)
        for axis, size in enumerate(table.shape):
            at = [slice(None)] * len(table.shape)
            at[axis] = size
            is_margin[tuple(at)] = True
        n_corners = 2 ** len(table.shape)
        # cost of newly suppressing a key: new interior cells first, then new margins, then the count hidden
        self.new_cost = np.where(is_margin, interior * (n_corners + 1) * n_corners, interior) + self.values
        self.new_cost[locked] = math.inf

    def _options(self, at: tuple[int, ...]):
        """Per dimension: the partner positions and whether the pair swaps (−) or pairs with the total (+)."""
        partners, signs = [], []
        for j, size in zip(at, self.table.shape):
            if j == size:  # a total: pair it with each category (the category moves with the total)
                partners.append(np.arange(size))
                signs.append(np.ones(size))
            else:  # a category: swap with each other one, or pair with the total
                others = np.array([c for c in range(size) if c != j] + [size])
                partners.append(others)
                signs.append(np.where(others == size, 1.0, -1.0))
        return partners, signs

    def protect(self, at: tuple[int, ...], hidden: np.ndarray, certified: dict, *, require_width: bool) -> bool:
        """Suppress the cheapest protecting cube through ``at``; without ``require_width``, the widest.

        Returns True when a cube certified ``at`` (and its corners)."""
        partners, signs = self._options(at)
        n = len(at)
        cost = np.where(hidden, 0.0, self.new_cost)
        shape = tuple(len(p) for p in partners)
        total_cost = np.zeros(shape)
        up = np.full(shape, math.inf)      # smallest corner that decreases when ``at`` increases
        down = np.full(shape, math.inf)    # smallest corner that decreases with ``at``
        for corner in itertools.product((0, 1), repeat=n):
            index = np.ix_(*(partners[d] if c else np.array([at[d]]) for d, c in enumerate(corner)))
            sign = np.ones([1] * n)
            for d, c in enumerate(corner):
                if c:
                    sign = sign * signs[d].reshape([-1 if e == d else 1 for e in range(n)])
            values = self.values[index]
            total_cost = total_cost + cost[index]
            down = np.minimum(down, np.where(sign > 0, values, math.inf))
            up = np.minimum(up, np.where(sign < 0, values, math.inf))
        width = up + down
        usable = np.isfinite(total_cost)
        if require_width:
            score = np.where(usable & (width >= self.rule.min_width), total_cost, math.inf)
            if not np.isfinite(score).any():
                return False
            best = np.unravel_index(int(np.argmin(score)), shape)
        else:  # nothing protects on its own: the widest cube that adds something, cheapest among those
            adds = usable & (total_cost > 0)
            if not adds.any():
                return False
            widest = np.where(adds, width, -1.0).max()
            score = np.where(adds & (width == widest), total_cost, math.inf)
            best = np.unravel_index(int(np.argmin(score)), shape)
        chosen = [(at[d], int(partners[d][best[d]])) for d in range(n)]
        flips = [float(signs[d][best[d]]) for d in range(n)]  # -1: the partner moves against ``at``
        lower, upper = float(down[best]), float(up[best])
        protects = lower + upper >= self.rule.min_width
        for corner in itertools.product((0, 1), repeat=n):
            position = tuple(chosen[d][c] for d, c in enumerate(corner))
            hidden[position] = True
            if protects and position not in certified:
                along = math.prod(flips[d] for d, c in enumerate(corner) if c)
                value = self.values[position]
                # ``at`` moves by t in [-lower, +upper]; this corner by ±t: an inner bound of its LP interval
                certified[position] = ((value - lower, value + upper) if along > 0 else (value - upper, value + lower))
        return protects
