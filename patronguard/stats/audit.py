"""The attacker's view of a suppressed table: how tightly can each hidden count be pinned?

For each suppressed key (an interior cell or a margin), minimise and maximise
its value by linear programming subject to every published equation — each
released interior cell, each released marginal total (including totals
published earlier for the same table) — and non-negativity of every count.
This is the "interval" audit of τ-ARGUS and sdcTable (``protectTable`` then
``attack``): a suppression pattern is safe when every interval is wide enough
under :class:`~patronguard.stats.rules.ProtectionRule`.

The unknowns are the suppressed interior counts; a suppressed margin is the
sum of its interior counts, so its interval is an LP over the same unknowns.
``scipy.optimize.linprog`` (HiGHS) solves them.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterable, Mapping

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from ..errors import InputError
from .rules import ProtectionRule
from .table import TOTAL, CountTable, Key, key_text

_SIMPLEX_UP_TO = 1000  # unknowns


def _ancestors(key: Key) -> Iterable[Key]:
    """Every key whose total includes ``key`` (the key itself first)."""
    positions = [i for i, part in enumerate(key) if part is not TOTAL]
    for r in range(len(positions) + 1):
        for summed in itertools.combinations(positions, r):
            yield tuple(TOTAL if i in summed else part for i, part in enumerate(key))


def protection_intervals(
    table: CountTable,
    suppressed: Iterable[Key],
    released_margins: Mapping[Key, int] | None = None,
    *,
    of: Iterable[Key] | None = None,
) -> dict[Key, tuple[float, float]]:
    """Feasible interval (lo, hi) of every suppressed key (or those in ``of``), as published figures allow.

    ``suppressed`` lists the hidden keys (interior cells and margins); every other
    interior cell counts as released with its table value. ``released_margins`` maps
    each published margin (and any interior cell published earlier) to the number
    published; ``None`` means every margin not in ``suppressed``, at its table value.
    ``hi`` is ``math.inf`` when nothing bounds the count from above.
    """
    hidden = set(suppressed)
    for key in hidden:
        table.index_of(key)  # validates
    if released_margins is None:
        published = {k: table.value(k) for k in table.margin_keys() if k not in hidden}
    else:
        published = dict(released_margins)
    unknowns = sorted((k for k in hidden if not table.is_margin(k)), key=table.index_of)
    variable = {k: j for j, k in enumerate(unknowns)}

    # each published key: the sum of its hidden interior cells = published - its released interior cells
    members: dict[Key, list[int]] = {}
    for cell, j in variable.items():
        for ancestor in _ancestors(cell):
            members.setdefault(ancestor, []).append(j)
    rows, cols, rhs = [], [], []
    for key, number in published.items():
        table.index_of(key)
        hidden_part = members.get(key)
        if not hidden_part:
            continue  # involves no unknown: nothing to learn from it
        known = table.value(key) - sum(table.value(unknowns[j]) for j in hidden_part)
        rows.extend([len(rhs)] * len(hidden_part))
        cols.extend(hidden_part)
        rhs.append(number - known)
    equations = (csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(rhs), len(unknowns)))
                 if rhs else None)

    targets = hidden if of is None else set(of)
    intervals: dict[Key, tuple[float, float]] = {}
    for key in sorted(targets, key=table.index_of):
        if key not in hidden:
            raise InputError(f"key {key_text(key)} is not suppressed, so it has no protection interval")
        in_key = members.get(key, [])
        known = table.value(key) - sum(table.value(unknowns[j]) for j in in_key)
        if not in_key:
            intervals[key] = (float(known), float(known))  # every part of it is released: exact
            continue
        objective = np.zeros(len(unknowns))
        objective[in_key] = 1.0
        lo = _optimum(objective, equations, rhs)
        hi = _optimum(-objective, equations, rhs)
        intervals[key] = (known + lo, math.inf if hi is None else known - hi)
    return intervals


def _optimum(objective: np.ndarray, equations, rhs) -> float | None:
    """Minimum of ``objective @ x`` over x ≥ 0 meeting the equations; None if unbounded below."""
    # dual simplex stalls on these degenerate systems once they grow; interior point (with crossover) does not
    method = "highs" if objective.size <= _SIMPLEX_UP_TO else "highs-ipm"
    result = linprog(objective, A_eq=equations, b_eq=np.asarray(rhs, dtype=float) if rhs else None,
                     bounds=(0, None), method=method)
    if result.status == 3:  # unbounded
        return None
    if result.status != 0:
        raise InputError(f"published figures are inconsistent with the table (linear program: {result.message})")
    return float(result.fun)


def unprotected(intervals: Mapping[Key, tuple[float, float]], rule: ProtectionRule = ProtectionRule()) -> list[Key]:
    """Keys whose interval an attacker could narrow to an exact value or ``m ± p``."""
    return [k for k, (lo, hi) in intervals.items() if not rule.is_protected(lo, hi)]
