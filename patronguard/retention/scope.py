"""Which rows of a table identify a patron, how old they are, and what exempts them.

One builder shared by the exposure report (which counts) and the retention
engine (which acts), so both always agree on what "past retention and not
exempt" means.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..ils.piimap import PiiMap, TableMap
from ..ils.shape import IlsShape
from .exemptions import ExemptionContext, predicate


def typed_cutoff(column: sa.ColumnElement, day: dt.date, dialect: str = ""):
    """The cutoff day typed for ``column``: a row is past when its date is *before* this day, so a row
    dated on the cutoff day, at any time, is kept.

    DATETIME columns compare with midnight of the day. On SQLite dates are text: the bare day
    ``'YYYY-MM-DD'`` sorts before every time of that day in any stored form (``'… 00:00:00'`` or
    ``'… 00:00:00.000000'``), where a rendered midnight would sort after a row stored without
    microseconds and strip a row of the cutoff day."""
    if dialect == "sqlite" and isinstance(column.type, (sa.Date, sa.DateTime)):
        return sa.literal(day.isoformat(), sa.String)
    if isinstance(column.type, sa.DateTime):
        return dt.datetime.combine(day, dt.time.min)
    return day


@dataclass
class RowScope:
    name: str
    table_map: TableMap
    table: sa.Table
    source: sa.FromClause
    link: sa.ColumnElement
    age: sa.ColumnElement
    identifying: list[sa.ColumnElement[bool]]
    exemptions: list[tuple[str, sa.ColumnElement[bool]]] = field(default_factory=list)

    orphaned: sa.ColumnElement[bool] | None = None
    dialect: str = ""

    def past(self, cutoff: dt.date) -> sa.ColumnElement[bool]:
        aged = self.age < typed_cutoff(self.age, cutoff, self.dialect)
        return sa.or_(aged, self.orphaned) if self.orphaned is not None else aged

    def exempt(self) -> sa.ColumnElement[bool]:
        return sa.or_(*(pred for _, pred in self.exemptions)) if self.exemptions else sa.false()

    def eligible(self, cutoff: dt.date) -> sa.ColumnElement[bool]:
        """Identifies a patron, past retention, and no exemption applies."""
        return sa.and_(*self.identifying, self.past(cutoff), sa.not_(self.exempt()))

    def key_columns(self) -> list[sa.Column]:
        return [self.table.c[k] for k in self.table_map.key]


def row_scope(name: str, shape: IlsShape, pii_map: PiiMap, legal_holds: frozenset[int],
              notes: list[str] | None = None, as_of: dt.date | None = None) -> RowScope:
    table_map = pii_map.tables[name]
    t = shape.tables[name]
    link = t.c[table_map.link]
    source: sa.FromClause = t
    if table_map.age_via_patron:
        patrons = shape.tables[pii_map.patron_table].alias("age_p")
        source = t.join(patrons, patrons.c[table_map.link_to or pii_map.patron_key] == link)
        age = patrons.c[table_map.age_via_patron]
    else:
        age = t.c[table_map.age]
    identifying = [link.is_not(None)]
    if table_map.links_patron_key and shape.anonymous_patron is not None:
        identifying.append(link != shape.anonymous_patron)
    if table_map.link_when:
        identifying.append(t.c[table_map.link_when.column].in_(table_map.link_when.in_))
    ctx = ExemptionContext(name, t, link, shape, pii_map, legal_holds, notes if notes is not None else [],
                           link_to=table_map.link_to, as_of=as_of)
    exemptions = [(ex.kind, predicate(ctx, ex)) for ex in table_map.exemptions]
    orphaned = None
    if table_map.orphans_expire:
        owners = shape.tables[pii_map.patron_table].alias("orphan_p")
        orphaned = ~sa.exists().where(owners.c[table_map.link_to or pii_map.patron_key] == link)
        if table_map.unlinked_value is not None:
            # e.g. Koha's pending self-registrations (borrowernumber 0): personal data of nobody yet,
            # aged by the row's own date, never "orphaned"
            orphaned = sa.and_(link != table_map.unlinked_value, orphaned)
    return RowScope(name, table_map, t, source, link, age, identifying, exemptions, orphaned, shape.dialect)
