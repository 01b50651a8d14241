"""What the connected ILS database actually has, checked against the PII map.

Real Koha sites span many versions: tables and columns come and go. A
missing *required* table or column (a key, patron link or age column) is a
:class:`NotKohaShapedError` naming it; a missing optional table, or a column
some check would like but can do without, is recorded as a note and the
check degrades to a stricter fallback.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import masked
from ..errors import NotKohaShapedError
from .piimap import PiiMap, TableMap


@dataclass
class IlsShape:
    """Reflected tables of the connected ILS that the PII map knows."""

    tables: dict[str, sa.Table]
    missing_optional_tables: list[str] = field(default_factory=list)
    unclassified_columns: dict[str, list[str]] = field(default_factory=dict)
    anonymous_patron: int | None = None
    dialect: str = ""
    notes: list[str] = field(default_factory=list)

    def has_column(self, table: str, column: str) -> bool:
        return table in self.tables and column in self.tables[table].c


def required_columns(name: str, table: TableMap, pii_map: PiiMap) -> list[str]:
    cols = list(table.key)
    if table.link:
        cols.append(table.link)
    if table.link_when:
        cols.append(table.link_when.column)
    if table.age and not table.age_via_patron:
        cols.append(table.age)
    if name == pii_map.patron_table:
        cols.append("privacy")
    return list(dict.fromkeys(cols))


def read_anonymous_patron(engine: Engine, pii_map: PiiMap, tables: dict[str, sa.Table]) -> int | None:
    """Koha's ``AnonymousPatron`` preference as a borrowernumber, or None if unset."""
    prefs = tables.get("systempreferences")
    if prefs is None or not pii_map.anonymous_patron_preference:
        return None
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(prefs.c.value).where(prefs.c.variable == pii_map.anonymous_patron_preference)
        ).scalar()
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number or None


def inspect_ils(engine: Engine, pii_map: PiiMap) -> IlsShape:
    """Reflect the mapped tables; raise NotKohaShapedError naming what is missing."""
    present = set(sa.inspect(engine).get_table_names())
    missing = [name for name, t in pii_map.tables.items() if not t.optional and name not in present]
    where = masked(engine.url)
    if missing:
        listed = ", ".join(missing[1:6]) + (", …" if len(missing) > 6 else "")
        more = f" (and {len(missing) - 1} more: {listed})" if len(missing) > 1 else ""
        raise NotKohaShapedError(f"{where} is not Koha-shaped: missing table {missing[0]!r}{more}")
    names = [name for name in pii_map.tables if name in present]
    reflected = sa.MetaData()
    reflected.reflect(bind=engine, only=names, resolve_fks=False)
    tables = {name: reflected.tables[name] for name in names}
    for name in names:
        absent = [c for c in required_columns(name, pii_map.tables[name], pii_map) if c not in tables[name].c]
        if absent:
            raise NotKohaShapedError(f"{where} is not Koha-shaped: table {name!r} has no column {absent[0]!r}")
    shape = IlsShape(
        tables=tables,
        missing_optional_tables=[n for n, t in pii_map.tables.items() if t.optional and n not in present],
        unclassified_columns={
            name: sorted(c.name for c in tables[name].c if c.name not in pii_map.tables[name].columns)
            for name in names
        },
        dialect=engine.dialect.name,
    )
    shape.unclassified_columns = {k: v for k, v in shape.unclassified_columns.items() if v}
    for name in shape.missing_optional_tables:
        shape.notes.append(f"optional table {name} is not in this database; nothing to govern there")
    for name, cols in shape.unclassified_columns.items():
        shape.notes.append(f"{name} has columns the PII map does not classify: {', '.join(cols)}")
    shape.anonymous_patron = read_anonymous_patron(engine, pii_map, tables)
    return shape
