"""Aggregate rows into the statistics warehouse's shape before their patron link goes.

Builds, from a table's ``aggregate`` section of the PII map, two queries over
a batch of rows:

``circulation_rows``: one row per source row with its cell (event, day,
branch, item type, collection, shelving location, patron category, age band), its patron,
renewals and amount — what the retention run reads: ``Deltas.add_facts``
sums the cells and, from the same pass, collects the distinct patrons of
each (month, branch, patron category, age band) cell, which become
keyed-hash sketches for small-cell suppression (see ``sketch.py``);
``circulation_facts``: the same counts summed by cell in SQL (one
``GROUP BY``), for comparisons such as the benchmark's bare-SQL floor.

Plain SQLAlchemy Core; works on SQLite, MariaDB and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import RunPlanError
from ..ils.piimap import AggregateSpec, PiiMap, ValueExpr
from ..ils.shape import IlsShape
from .scope import RowScope

UNKNOWN = "?"
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 12, "0-12"), (13, 17, "13-17"), (18, 24, "18-24"), (25, 44, "25-44"), (45, 64, "45-64"), (65, 200, "65+"),
)
#: a warehouse cell; ``location`` is the item's shelving location (the row's own column where the table has
#: one, as Koha's ``statistics`` does, else the item's; "?" where the table's spec names none, e.g. holds)
CIRCULATION_DIMS = ("event", "day", "branch", "itemtype", "ccode", "location", "patron_category", "age_band")
#: where a ``circulation_rows`` row has its patron (after the cell's dimensions)
PATRON_AT = len(CIRCULATION_DIMS)


def _quoted(text: str) -> sa.ColumnElement:
    return sa.literal_column("'" + text.replace("'", "''") + "'")


class _Refs:
    """Resolves ``col``, ``item.col`` and ``patron.col`` against the batch's joins."""

    def __init__(self, scope: RowScope, shape: IlsShape, pii_map: PiiMap, spec: AggregateSpec):
        self.scope, self.source = scope, scope.source
        refs = spec.refs()
        self.item = self.patron = None
        self.patron_source = shape.tables[pii_map.patron_table]
        if any(r.startswith("item.") for r in refs):
            self.item = shape.tables["items"].alias("agg_item")
            self.source = self.source.outerjoin(self.item, self.item.c.itemnumber == scope.table.c.itemnumber)
        if any(r.startswith("patron.") for r in refs):
            self.patron = shape.tables[pii_map.patron_table].alias("agg_patron")
            self.source = self.source.outerjoin(self.patron, self.patron.c[pii_map.patron_key] == scope.link)

    def has(self, ref: str) -> bool:
        if ref.startswith("item."):
            return ref[5:] in self.item.c
        if ref.startswith("patron."):
            return ref[7:] in self.patron.c
        return ref in self.scope.table.c

    def column(self, ref: str | list[str]) -> sa.ColumnElement:
        """A column; of a list of alternatives, the first this database has (older Koha lines name
        some columns differently, e.g. ``renewals`` before ``renewals_count``)."""
        if isinstance(ref, list):
            present = [r for r in ref if self.has(r)]
            if not present:
                raise RunPlanError(f"{self.scope.name}: none of the columns {', '.join(ref)} is in this database")
            ref = present[0]
        if ref.startswith("item."):
            return self.item.c[ref[5:]]
        if ref.startswith("patron."):
            return self.patron.c[ref[7:]]
        return self.scope.table.c[ref]

    def expr(self, e: ValueExpr | None) -> sa.ColumnElement:
        if e is None:
            return _quoted(UNKNOWN)
        if e.value is not None:
            return _quoted(e.value)
        if e.column:
            base = self.column(e.column)
        else:  # coalesce over the columns this database has (e.g. debit_type_code/credit_type_code or accounttype)
            present = [c for c in e.coalesce if self.has(c)]
            if not present:
                raise RunPlanError(f"{self.scope.name}: none of the columns {', '.join(e.coalesce)} is in this database")
            base = (self.column(present[0]) if len(present) == 1
                    else sa.func.coalesce(*(self.column(c) for c in present)))
        if e.map:
            base = sa.case(*((base == _quoted(k), _quoted(v)) for k, v in e.map.items()),
                           else_=_quoted(e.default) if e.default is not None else sa.cast(base, sa.String))
        return sa.func.coalesce(sa.cast(base, sa.String), _quoted(e.default or UNKNOWN))


def day_of(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    if dialect == "sqlite":
        return sa.func.date(column)
    if dialect == "postgresql":
        return sa.cast(column, sa.Date)
    return sa.func.date(column)


def age_band(event_day: sa.ColumnElement, birth: sa.ColumnElement | None) -> sa.ColumnElement:
    if birth is None:
        return _quoted(UNKNOWN)
    years = sa.extract("year", event_day) - sa.extract("year", birth)
    return sa.case(*((years.between(lo, hi), _quoted(label)) for lo, hi, label in AGE_BANDS), else_=_quoted(UNKNOWN))


def _location(refs: _Refs, e: ValueExpr | None) -> sa.ColumnElement:
    """The shelving location, or "?" where this database has none of the columns the spec names: every
    supported Koha line has ``items.location`` and ``statistics.location``, but a row must never go uncounted
    (or a run be refused) for want of an optional dimension."""
    if e is not None and not any(refs.has(r) for r in e.refs()) and e.value is None:
        return _quoted(UNKNOWN)
    return refs.expr(e)


def _labelled(scope: RowScope, shape: IlsShape, pii_map: PiiMap, spec: AggregateSpec):
    refs = _Refs(scope, shape, pii_map, spec)
    when = refs.column(spec.day)
    birth = refs.column(spec.birth_date) if spec.birth_date else None
    dims = {
        "event": refs.expr(spec.event),
        "branch": refs.expr(spec.branch),
        "itemtype": refs.expr(spec.itemtype),
        "ccode": refs.expr(spec.ccode),
        "location": _location(refs, spec.location),
        "patron_category": refs.expr(spec.patron_category),
        "age_band": age_band(when, birth),
    }
    return refs, when, dims


def circulation_facts(scope: RowScope, shape: IlsShape, pii_map: PiiMap, spec: AggregateSpec,
                      where: sa.ColumnElement[bool]) -> sa.Select:
    """Counts per warehouse cell for the rows matching ``where`` (one ``GROUP BY``)."""
    inner = circulation_rows(scope, shape, pii_map, spec, where).subquery("facts")
    keys = [inner.c[n] for n in CIRCULATION_DIMS]
    return sa.select(*keys, sa.func.count().label("events"), sa.func.sum(inner.c.renewals).label("renewals"),
                     sa.func.sum(inner.c.amount).label("amount")).group_by(*keys)


def circulation_rows(scope: RowScope, shape: IlsShape, pii_map: PiiMap, spec: AggregateSpec,
                     where: sa.ColumnElement[bool]) -> sa.Select:
    """One row per matching row, in ``Deltas.add_facts``' shape: the cell's dimensions, the patron,
    ``events`` (always 1), renewals and amount.

    The retention run aggregates with this, not with a ``GROUP BY`` that includes the patron: grouped
    by patron, a batch of loans still has about one group per loan (a patron rarely does the same thing
    twice in one cell on one day), so the server would sort every batch for nothing — measured on
    SQLite, the grouped query took 2.3× as long as this one for the same 400,000 statistics rows.
    ``add_facts`` sums the rows of a cell in a dictionary and collects each sketch cell's patrons from
    the same pass.
    """
    refs, when, dims = _labelled(scope, shape, pii_map, spec)
    renewals = refs.column(spec.renewals) if spec.renewals else sa.literal_column("0")
    amount = refs.column(spec.amount) if spec.amount else sa.literal_column("0")
    if isinstance(amount.type, sa.Float) and shape.dialect != "sqlite":
        # a money amount kept as a float (Koha's ``statistics.value`` is ``double(16,4)``) read as the decimal
        # it stands for: summed exactly, and on MariaDB fetched packed (a float's text form is not known to
        # round-trip; see packedrows.py). SQLite has no decimal type: its REAL stays as it is.
        amount = sa.cast(amount, sa.Numeric(28, 6))
    labelled = dict(dims) | {"day": day_of(when, shape.dialect)}
    return (
        sa.select(*(labelled[n].label(n) for n in CIRCULATION_DIMS), scope.link.label("patron"),
                  sa.literal_column("1").label("events"),
                  sa.func.coalesce(renewals, 0).label("renewals"),
                  sa.func.coalesce(amount, 0).label("amount"))
        .select_from(refs.source).where(where)
    )
