"""Counts for a statistics request: the warehouse and the live ILS, merged without double counting.

The merge rule
--------------
A row of a history table (``old_issues``, ``old_reserves``, ``statistics``)
is counted exactly once, from one of three places:

1. **Still names a patron** (the retention run's ``identifying`` test: link
   not NULL and not Koha's AnonymousPatron): it has never been aggregated —
   the run aggregates a row in the same ILS transaction that strips it — so
   it is counted from the **live ILS**, with its patron's category and age band.
2. **Stripped by patronguard**: it was counted into the **warehouse**
   (``stats_circulation``) by the batch that stripped it; the warehouse
   carries its patron dimensions, taken before the link went.
3. **No patron, never aggregated** (Koha anonymised it itself, its patron
   was deleted outside patronguard, or a batch was stripped in the ILS and
   killed before the ledger completed it): counted from the live ILS as the
   rows without a patron **minus** what the warehouse holds for the same
   source in the same cell of the non-patron dimensions (day/period, branch,
   item type, collection, location), with patron category and age band "?". Every row
   patronguard strips stays in its table without a patron (``aggregate_then_strip``
   never deletes), so this difference is exactly the rows of case 3; a batch
   killed after its ILS commit is counted here until recovery completes it,
   then from the warehouse, with no gap and no double count in between.
   (Under a policy that *deletes* a history table after counting it, the
   counted rows are gone from the ILS: a cell's difference can fall below
   zero and is taken as zero — a gap only where the same cell also holds
   rows that never had a patron.)

Rows of an active table (``issues``, ``reserves``) are never aggregated:
always live. So a total over all time is warehouse + live whatever the batch
boundaries or the number of runs were.

Distinct patrons come from the keyed-hash sketches (``retention/sketch.py``):
the live patrons of each (month, branch, patron category, age band) cell are
hashed with the same key and cell salt and merged into the warehouse's
sketch, so a patron seen in both halves counts once. A coarser cell (quarter,
year, all branches) gets the largest of its sketch cells: a lower bound. A
cell finer than the sketches (day, week, item type, collection, location) gets the
live ``COUNT(DISTINCT)`` or 1 where the warehouse holds rows: also a lower
bound — suppression errs on the side of hiding.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError
from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..retention import sketch
from ..store import Store
from .query_live import live_counts, live_sketch_pairs
from .query_warehouse import (
    PATRON_DIMS, SKETCH_DIMS, UNKNOWN, sketch_dimension, warehouse_counts, warehouse_sketches,
)
from .request import StatsRequest


@dataclass(frozen=True)
class Family:
    """Rows counted together: a warehouse source, its live history table and the active table feeding it."""

    source: str
    active: str | None


FAMILIES = {"loans": Family("old_issues", "issues"), "holds": Family("old_reserves", "reserves"),
            "statistics": Family("statistics", None)}


@dataclass(frozen=True)
class MeasureSpec:
    family: str
    events: tuple[str, ...] | None   # None: every event of the source
    value: str                       # "rows" or "renewals"


MEASURE_SPECS = {
    "checkouts": MeasureSpec("loans", None, "rows"),
    "renewals": MeasureSpec("loans", None, "renewals"),
    "returns": MeasureSpec("statistics", ("return",), "rows"),
    "holds_placed": MeasureSpec("holds", None, "rows"),
    "holds_filled": MeasureSpec("holds", ("hold_filled",), "rows"),
}
#: the dimensions of a distinct-patron sketch cell
SKETCH_GRAIN = ("month", "branch", "patron_category", "age_band")
#: the family whose patrons ``distinct_patrons`` counts (borrowers)
PATRONS_OF = MeasureSpec("loans", None, "rows")


@dataclass
class StatsCounts:
    """Merged counts of a request: one dict per measure, and the distinct patrons behind each cell."""

    dimensions: tuple[str, ...]
    values: dict[str, dict[tuple, int]]
    #: per measure: distinct patrons behind each cell (exact at the sketch grain, else a lower bound)
    patrons: dict[str, dict[tuple, int]]
    patrons_exact: bool = False

    def total(self, measure: str) -> int:
        return sum(self.values[measure].values())


def check_answerable(request: StatsRequest) -> None:
    """Refuse, before any database is opened, what the warehouse and the ILS cannot answer completely."""
    if "removed_patrons" in request.measures:
        from .query_removed import check_removed_answerable

        check_removed_answerable(request)
    if "new_registrations" in request.measures:
        from .query_registrations import check_registrations_answerable

        check_registrations_answerable(request)
    if "distinct_patrons" in request.measures and not sketchable(request):
        raise InputError("--measures: distinct_patrons can be counted by month, quarter, year, branch, "
                         "patron_category and age_band over whole months only (the grain of the warehouse's "
                         "distinct-patron sketches)")


def sketchable(request: StatsRequest) -> bool:
    """Sketches answer the request exactly or as a lower bound: months whole, dimensions at or above their grain."""
    whole = ((request.from_day is None or request.from_day.day == 1)
             and (request.to_day is None or (request.to_day + dt.timedelta(days=1)).day == 1))
    return whole and set(request.grouping) <= set(SKETCH_DIMS)


class _Counter:
    """One request's queries: counts per family, then the distinct patrons behind them."""

    def __init__(self, ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, request: StatsRequest,
                 hash_key: bytes):
        self.ils, self.shape, self.pii_map, self.store, self.r = ils, shape, pii_map, store, request
        self.key = hash_key
        self.grouping = request.grouping
        self.patron_positions = [i for i, d in enumerate(self.grouping) if d in PATRON_DIMS]
        self.sql_where = {d: v for d, v in request.where.items() if d not in PATRON_DIMS}
        self.live_patrons: dict[tuple, dict[tuple, int]] = {}

    def _selected(self, cell: tuple) -> bool:
        return all(cell[self.grouping.index(d)] == v for d, v in self.r.where.items())

    def family_counts(self, family: str, events) -> dict[tuple, list[int]]:
        """(grouping…, event) -> [rows, renewals]: warehouse + live linked + live rows of case 3. Also keeps,
        in ``self.live_patrons[(family, events)]``, the live distinct patrons per cell (from the same pass)."""
        fam = FAMILIES[family]
        first, last, g = self.r.from_day, self.r.to_day, self.grouping
        with self.store.engine.connect() as conn:
            stored = warehouse_counts(conn, self.store, fam.source, g, events, first, last, self.r.where)
            stored_any = (stored if self.sql_where == self.r.where else
                          warehouse_counts(conn, self.store, fam.source, g, events, first, last, self.sql_where))
        with self.ils.connect() as conn:
            live = live_counts(conn, self.shape, self.pii_map, fam.source, fam.source, g, events, first, last,
                               self.sql_where)
            active = (live_counts(conn, self.shape, self.pii_map, fam.active, fam.source, g, events, first, last,
                                  self.sql_where) if fam.active and fam.active in self.shape.tables else {})
        out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        patrons: dict[tuple, int] = {}

        def add(cell: tuple, n: int, renewals: int, distinct: int = 0) -> None:
            if self._selected(cell):
                out[cell][0] += n
                out[cell][1] += renewals
                if distinct > patrons.get(cell[:-1], 0):  # largest over events and tables: a lower bound
                    patrons[cell[:-1]] = distinct

        for cell, (n, renewals) in stored.items():
            add(cell, n, renewals)
        # case 3: unlinked rows minus the warehouse's, compared with patron dimensions set aside
        unlinked: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for (*dims, event, is_linked), (n, renewals, distinct) in live.items():
            if is_linked:
                add((*dims, event), n, renewals, distinct)
            else:
                part = unlinked[self._unknown_patron((*dims, event))]
                part[0] += n
                part[1] += renewals
        for cell, (n, renewals) in stored_any.items():
            if (known := unlinked.get(self._unknown_patron(cell))) is not None:
                known[0] -= n
                known[1] -= renewals
        for cell, (n, renewals) in unlinked.items():
            if n > 0:
                add(cell, n, max(renewals, 0))
        for (*dims, event, is_linked), (n, renewals, distinct) in active.items():  # never aggregated: all live
            add((*dims, event) if is_linked else self._unknown_patron((*dims, event)), n, renewals, distinct)
        self.live_patrons[(family, events)] = patrons
        return out

    def _unknown_patron(self, cell: tuple) -> tuple:
        return tuple(UNKNOWN if i in self.patron_positions else v for i, v in enumerate(cell))

    def sketch_patrons(self, family: str, with_live: bool) -> dict[tuple, int]:
        """Distinct patrons per cell from the sketches: with the live patrons merged in (exact at the sketch
        grain), or the warehouse's alone (for a coarser cell, whose count is a lower bound either way)."""
        fam = FAMILIES[family]
        first = self.r.from_day.isoformat()[:7] if self.r.from_day else None
        last = self.r.to_day.isoformat()[:7] if self.r.to_day else None
        merged: dict[tuple, list[int]] = {}
        with self.store.engine.connect() as conn:
            for cell, values in warehouse_sketches(conn, self.store, fam.source, first, last):
                merged[cell] = values
        with self.ils.connect() as conn:
            for table in (fam.source, fam.active) if with_live else ():
                if table is None or table not in self.shape.tables:
                    continue
                for chunk in live_sketch_pairs(conn, self.shape, self.pii_map, table, fam.source, None,
                                               self.r.from_day, self.r.to_day):
                    for cell, patrons in chunk.items():
                        fresh = sketch.cell_hashes(self.key, (fam.source, *cell), patrons)
                        merged[cell] = sketch.merge(merged.get(cell, ()), fresh)
        out: dict[tuple, int] = {}
        for cell, values in merged.items():
            target = tuple(sketch_dimension(d, *cell) for d in self.grouping)
            if not self._selected(target):
                continue
            n = round(sketch.estimate(values))
            if n > out.get(target, 0):
                out[target] = n
        return out

    def patrons(self, family: str, events, counted: dict[tuple, int]) -> dict[tuple, int]:
        """Distinct patrons behind each cell of ``counted`` (see the module docstring): exact at the sketch
        grain, else the largest lower bound known — never more than there are."""
        out = dict(self.live_patrons.get((family, events), {}))
        if events is None and sketchable(self.r):
            full = set(self.grouping) >= set(SKETCH_GRAIN)
            for cell, n in self.sketch_patrons(family, with_live=full).items():
                out[cell] = n if full else max(n, out.get(cell, 0))
        for cell, n in counted.items():
            if n > 0 and not out.get(cell):
                out[cell] = 1       # rows whose patron is not known: at least one patron
        return out


def _project(cells: dict[tuple, int], positions: list[int]) -> dict[tuple, int]:
    out: dict[tuple, int] = defaultdict(int)
    for cell, n in cells.items():
        out[tuple(cell[i] for i in positions)] += n
    return dict(out)


def count_statistics(ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, request: StatsRequest,
                     hash_key: bytes) -> StatsCounts:
    """The request's counts, warehouse and live merged by the rule of this module, grouped by ``request.by``."""
    check_answerable(request)
    counter = _Counter(ils, shape, pii_map, store, request, hash_key)
    by_positions = [request.grouping.index(d) for d in request.by]
    values: dict[str, dict[tuple, int]] = {}
    patrons: dict[str, dict[tuple, int]] = {}
    families: dict[tuple, tuple[dict, dict]] = {}
    for measure in request.measures:
        if measure == "removed_patrons":      # one patron per removal: the count is its own distinct patrons
            from .query_removed import removed_counts

            cells = _project(removed_counts(store, request), by_positions)
            values[measure], patrons[measure] = cells, dict(cells)
            continue
        if measure == "new_registrations":    # one patron per registration: its own distinct patrons
            from .query_registrations import registration_counts

            cells = _project(registration_counts(ils, shape, pii_map, store, request), by_positions)
            values[measure], patrons[measure] = cells, dict(cells)
            continue
        spec = PATRONS_OF if measure == "distinct_patrons" else MEASURE_SPECS[measure]
        fam_key = (spec.family, spec.events)
        if fam_key not in families:
            counts = counter.family_counts(spec.family, spec.events)
            rows: dict[tuple, int] = defaultdict(int)
            for cell, pair in counts.items():  # summed over the events
                rows[cell[:-1]] += pair[0]
            families[fam_key] = (counts, counter.patrons(spec.family, spec.events, rows))
        counts, cell_patrons = families[fam_key]
        column = 1 if spec.value == "renewals" else 0
        per_cell: dict[tuple, int] = defaultdict(int)
        for cell, pair in counts.items():  # summed over the events
            per_cell[cell[:-1]] += pair[column]
        if measure == "distinct_patrons":
            per_cell = dict(cell_patrons)
        values[measure] = _project(per_cell, by_positions)
        # a projected cell's patrons: the largest of its parts (a lower bound)
        projected: dict[tuple, int] = {}
        for cell, n in cell_patrons.items():
            key = tuple(cell[i] for i in by_positions)
            projected[key] = max(projected.get(key, 0), n)
        patrons[measure] = projected
    return StatsCounts(tuple(request.by), values, patrons,
                       patrons_exact=sketchable(request) and set(request.grouping) >= set(SKETCH_GRAIN))


def count_events(ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, request: StatsRequest,
                 hash_key: bytes, family: str, events: tuple[str, ...] | None) -> dict[tuple, int]:
    """Rows of one family (optionally some events only) per cell of ``request.grouping``, merged by the rule
    of this module — for figures such as the PLS's that no single measure is (issues and renewals by their
    own day, from Koha's ``statistics``)."""
    counter = _Counter(ils, shape, pii_map, store, request, hash_key)
    out: dict[tuple, int] = defaultdict(int)
    for cell, (n, _renewals) in counter.family_counts(family, events).items():
        out[cell[:-1]] += n
    return dict(out)


#: where a filter value of a dimension is looked up in the ILS: (table, column)
_ILS_CODES = {"branch": [("branches", "branchcode")], "patron_category": [("categories", "categorycode")],
              "itemtype": [("itemtypes", "itemtype"), ("items", "itype")], "collection": [("items", "ccode")],
              "location": [("items", "location")]}


def check_where_values(ils: Engine, shape: IlsShape, store: Store, request: StatsRequest) -> None:
    """Each ``--where`` value must exist: in the ILS's codes or the warehouse's cells (a branch closed since
    may be in the warehouse only). Looked up with bound values; one line naming the filter if not."""
    from ..retention.aggregate import AGE_BANDS
    from .query_warehouse import COLUMN_OF, PERIOD_DIMS

    circulation = store["stats_circulation"]
    for dim, value in request.where.items():
        if dim in PERIOD_DIMS:
            continue  # checked for form by the request; a period with no rows is a period with no rows
        if dim == "age_band":
            if value not in {label for _lo, _hi, label in AGE_BANDS} | {UNKNOWN}:
                raise InputError(f"--where: age_band={value} is not an age band "
                                 f"({', '.join(label for _lo, _hi, label in AGE_BANDS)}, ?)")
            continue
        with ils.connect() as conn:
            for table, column in _ILS_CODES.get(dim, []):
                t = shape.tables.get(table)
                if t is not None and column in t.c and conn.execute(
                        sa.select(t.c[column]).where(t.c[column] == sa.bindparam("v", value)).limit(1)).first():
                    break
            else:
                with store.engine.connect() as wconn:
                    column = circulation.c[COLUMN_OF[dim]]
                    if not wconn.execute(sa.select(column).where(column == sa.bindparam("v", value)).limit(1)).first():
                        raise InputError(f"--where: {dim}={value} matches no {dim} of the ILS or the warehouse")


@dataclass
class ControlledStats:
    """The released table: per measure the suppression result (counts) or the cells hidden (distinct patrons)."""

    counts: StatsCounts
    k: int
    results: dict = field(default_factory=dict)          # measure -> SuppressionResult
    hidden_patrons: frozenset = frozenset()               # distinct_patrons cells below k

    def rows(self) -> list[dict]:
        """One dict per interior cell and marginal total ("*"): values as released, suppressed ones as "x"."""
        from .suppression import SUPPRESSED_MARK
        from .table import TOTAL

        keys: list[tuple] = []
        for result in self.results.values():
            keys = list(result.table.interior_keys()) + list(result.table.margin_keys())
            break
        if not keys and "distinct_patrons" in self.counts.values:
            keys = sorted(self.counts.values["distinct_patrons"])
        out = []
        for key in keys:
            row = {d: ("*" if part is TOTAL else part) for d, part in zip(self.counts.dimensions, key)}
            for measure in self.counts.values:
                if measure == "distinct_patrons":
                    n = self.counts.values[measure].get(key)
                    row[measure] = ("" if TOTAL in key else SUPPRESSED_MARK if key in self.hidden_patrons
                                    else n or 0)
                else:
                    row[measure] = self.results[measure].shown(key)
            out.append(row)
        return out

    def summary(self) -> dict:
        return {"k": self.k, "dimensions": list(self.counts.dimensions), "measures": {
            m: {"cells_and_totals": int(r.table.values.size), "primary": len(r.primary), "secondary": len(r.secondary)}
            | ({"against_differencing": len(r.differencing)} if r.differencing else {})
            for m, r in self.results.items()} | ({"distinct_patrons": {"primary": len(self.hidden_patrons)}}
                                                if "distinct_patrons" in self.counts.values else {})}


def disclosure_controlled(counts: StatsCounts, k: int,
                          released_before: dict[str, dict[tuple, int]] | None = None,
                          must_hide: dict[str, set[tuple]] | None = None) -> ControlledStats:
    """Suppress each count measure's table (primary below ``k`` distinct patrons, then complementary so no
    hidden count can be worked out from the totals: :func:`patronguard.stats.suppress`). ``released_before``:
    per measure, the figures this table published earlier (:mod:`patronguard.stats.releases`)."""
    from .suppression import suppress
    from .table import Cell, CountTable

    out = ControlledStats(counts, k)
    categories = {d: sorted({c[i] for m in counts.values.values() for c in m}, key=str)
                  for i, d in enumerate(counts.dimensions)}
    for measure, cells in counts.values.items():
        if measure == "distinct_patrons":
            out.hidden_patrons = frozenset(c for c, n in cells.items() if 0 < n < k)
            continue
        patrons = counts.patrons[measure]
        table = CountTable(counts.dimensions, {c: Cell(n, patrons.get(c, 0) if n else 0) for c, n in cells.items()},
                           categories={d: v or ["-"] for d, v in categories.items()})
        # k was checked against the policy's floor when the request was decided (service.decide_stats)
        out.results[measure] = suppress(table, k=k, policy_floor=k,
                                        released_before=(released_before or {}).get(measure),
                                        must_hide=(must_hide or {}).get(measure, ()))
    return out
