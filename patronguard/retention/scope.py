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


def typed_cutoff(column: sa.ColumnElement, day: dt.date):
    """The cutoff day typed for ``column`` (midnight for DATETIME columns)."""
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

    def past(self, cutoff: dt.date) -> sa.ColumnElement[bool]:
        aged = self.age < typed_cutoff(self.age, cutoff)
        return sa.or_(aged, self.orphaned) if self.orphaned is not None else aged

    def exempt(self) -> sa.ColumnElement[bool]:
        return sa.or_(*(pred for _, pred in self.exemptions)) if self.exemptions else sa.false()

    def eligible(self, cutoff: dt.date) -> sa.ColumnElement[bool]:
        """Identifies a patron, past retention, and no exemption applies."""
        return sa.and_(*self.identifying, self.past(cutoff), sa.not_(self.exempt()))

    def key_columns(self) -> list[sa.Column]:
        return [self.table.c[k] for k in self.table_map.key]


def row_scope(name: str, shape: IlsShape, pii_map: PiiMap, legal_holds: frozenset[int],
              notes: list[str] | None = None) -> RowScope:
    table_map = pii_map.tables[name]
    t = shape.tables[name]
    link = t.c[table_map.link]
    source: sa.FromClause = t
    if table_map.age_via_patron:
        patrons = shape.tables[pii_map.patron_table].alias("age_p")
        source = t.join(patrons, patrons.c[pii_map.patron_key] == link)
        age = patrons.c[table_map.age_via_patron]
    else:
        age = t.c[table_map.age]
    identifying = [link.is_not(None)]
    if shape.anonymous_patron is not None:
        identifying.append(link != shape.anonymous_patron)
    if table_map.link_when:
        identifying.append(t.c[table_map.link_when.column].in_(table_map.link_when.in_))
    ctx = ExemptionContext(name, t, link, shape, pii_map, legal_holds, notes if notes is not None else [])
    exemptions = [(ex.kind, predicate(ctx, ex)) for ex in table_map.exemptions]
    orphaned = None
    if table_map.orphans_expire:
        owners = shape.tables[pii_map.patron_table].alias("orphan_p")
        orphaned = ~sa.exists().where(owners.c[pii_map.patron_key] == link)
    return RowScope(name, table_map, t, source, link, age, identifying, exemptions, orphaned)
