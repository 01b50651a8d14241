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
from .release import KohaRelease, detect_release
from .unmapped import UnmappedColumn, find_unmapped


@dataclass
class IlsShape:
    """Reflected tables of the connected ILS that the PII map knows."""

    tables: dict[str, sa.Table]
    missing_optional_tables: list[str] = field(default_factory=list)
    unclassified_columns: dict[str, list[str]] = field(default_factory=dict)
    anonymous_patron: int | None = None
    dialect: str = ""
    notes: list[str] = field(default_factory=list)
    release: KohaRelease | None = None
    #: columns that look like patron data and are in no map (see ``unmapped.py``)
    unmapped: list[UnmappedColumn] = field(default_factory=list)

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


def _is_integer(column: sa.Column) -> bool:
    return isinstance(column.type, sa.Integer)


def _is_dated(column: sa.Column) -> bool:
    return isinstance(column.type, (sa.Date, sa.DateTime))


def check_column_types(where: str, name: str, table_map: TableMap, table: sa.Table, pii_map: PiiMap) -> None:
    """Links to the patron key must be integers and age columns dates: anything else means the PII map's
    reading of this table would be wrong, so stop before anything is written."""
    if name == pii_map.patron_table:
        key = [c.name for c in table.primary_key.columns]
        if key != [pii_map.patron_key]:
            raise NotKohaShapedError(f"{where}: table {name} has primary key {key or 'none'}; "
                                     f"expected [{pii_map.patron_key!r}]")
    if table_map.links_patron_key:
        for column in table_map.columns_with("link"):
            if column in table.c and not _is_integer(table.c[column]):
                raise NotKohaShapedError(
                    f"{where}: column {name}.{column} is {table.c[column].type}; expected an integer patron "
                    f"link ({pii_map.patron_table}.{pii_map.patron_key})")
    if table_map.age and not table_map.age_via_patron and not _is_dated(table.c[table_map.age]):
        raise NotKohaShapedError(f"{where}: column {name}.{table_map.age} is {table.c[table_map.age].type}; "
                                 "expected a DATE, DATETIME or TIMESTAMP (it dates the row for retention)")


def inspect_ils(engine: Engine, pii_map: PiiMap, *, scan_unmapped: bool = True) -> IlsShape:
    """Detect the Koha release, reflect the mapped tables, find unmapped patron data;
    raise NotKohaShapedError (or UnsupportedReleaseError) naming what was found and what was expected.
    ``scan_unmapped=False`` skips the search for unmapped patron data (for a unit of work inside a run
    that has already refused or accepted it)."""
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
        check_column_types(where, name, pii_map.tables[name], tables[name], pii_map)
    release = detect_release(engine, present)
    shape = IlsShape(
        tables=tables,
        missing_optional_tables=[n for n, t in pii_map.tables.items() if t.optional and n not in present],
        unclassified_columns={
            name: sorted(c.name for c in tables[name].c if c.name not in pii_map.tables[name].columns)
            for name in names
        },
        dialect=engine.dialect.name,
        release=release,
        unmapped=find_unmapped(engine, pii_map, present) if scan_unmapped else [],
    )
    shape.unclassified_columns = {k: v for k, v in shape.unclassified_columns.items() if v}
    for name in shape.missing_optional_tables:
        shape.notes.append(f"optional table {name} is not in this database; nothing to govern there")
    for name, cols in shape.unclassified_columns.items():
        shape.notes.append(f"{name} has columns the PII map does not classify: {', '.join(cols)}")
    shape.anonymous_patron = read_anonymous_patron(engine, pii_map, tables)
    return shape
