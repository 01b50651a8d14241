"""Patron data the PII map does not cover: found in the database itself, never assumed absent.

A column looks like patron data when it is a foreign key to the patron
table, when its name is one Koha uses for a link to a person
(``borrowernumber``, ``guarantorid``, ``manager_id`` …, the map's
``patron_link_names``), or when it is free text in a table that links to
patrons. Such a column in no map is *unmapped patron data*: ``ils check``
lists it and ``retention run`` refuses to start while it exists, unless the
policy declares it out of scope with a reason (``retention.out_of_scope``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .piimap import PiiMap

#: VARCHAR columns at least this long are treated as free text (notes, messages, reasons)
FREE_TEXT_MIN_LENGTH = 100


@dataclass(frozen=True)
class UnmappedColumn:
    table: str
    column: str
    why: str

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.table}.{self.column} ({self.why})"


def is_free_text(column_type: sa.types.TypeEngine) -> bool:
    if isinstance(column_type, sa.Text):
        return True
    if isinstance(column_type, sa.String):
        return (column_type.length or 0) >= FREE_TEXT_MIN_LENGTH
    return False


def find_unmapped(engine: Engine, pii_map: PiiMap, present: set[str] | None = None) -> list[UnmappedColumn]:
    """Every column of the database that looks like patron data and is in no map, table by table."""
    inspector = sa.inspect(engine)
    names = sorted(present if present is not None else inspector.get_table_names())
    link_names = set(pii_map.patron_link_names) | {pii_map.patron_key}
    # one reflection pass for every table (a query per table is slow on servers with 300 tables)
    all_columns = {key[1]: value for key, value in inspector.get_multi_columns(filter_names=names).items()}
    all_fks = {key[1]: value for key, value in inspector.get_multi_foreign_keys(filter_names=names).items()}
    found: list[UnmappedColumn] = []
    for table in names:
        mapped = pii_map.tables.get(table)
        columns = all_columns.get(table, [])
        to_patrons = {c for fk in all_fks.get(table, [])
                      if fk.get("referred_table") == pii_map.patron_table for c in fk["constrained_columns"]}
        links = to_patrons | {c["name"] for c in columns if c["name"] in link_names}
        links_patrons = bool(links) or (mapped is not None and mapped.lifecycle != "reference")
        for column in columns:
            name = column["name"]
            if mapped is not None and name in mapped.columns:
                continue
            if name in to_patrons:
                why = f"foreign key to {pii_map.patron_table}"
            elif name in link_names:
                why = "named like a link to a patron"
            elif links_patrons and table != pii_map.patron_table and is_free_text(column["type"]):
                why = "free text in a table that links to patrons"
            elif table == pii_map.patron_table:
                why = "a column of the patron record"
            else:
                continue
            found.append(UnmappedColumn(table, name, why))
    return found
