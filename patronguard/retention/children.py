"""Rows that belong to other rows: deleted, and counted, before their parent goes.

Koha declares many of these with ``ON DELETE CASCADE`` (an ILL request's
attributes, a club enrolment's fields, a pseudonymised transaction's
attributes); deleting them explicitly first means every row removed is
counted in the run table, the artifact and the audit, and a database whose
foreign keys were dropped (or never created) is left without orphans.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .context import RunContext
from .ledger import Deltas


def delete_children(conn: Connection, ctx: RunContext, parent: str, parent_rows: sa.ColumnElement[bool],
                    deltas: Deltas) -> int:
    """Delete the rows of every child table of ``parent`` that belong to its rows matching ``parent_rows``
    (grandchildren first); return how many rows were deleted."""
    total = 0
    for child, child_map in ctx.pii_map.children_of(parent).items():
        if child not in ctx.shape.tables or parent not in ctx.shape.tables:
            continue
        ct, pt = ctx.shape.tables[child], ctx.shape.tables[parent]
        belongs = ct.c[child_map.parent.column].in_(sa.select(pt.c[child_map.parent.key]).where(parent_rows))
        total += delete_children(conn, ctx, child, belongs, deltas)
        deleted = conn.execute(ct.delete().where(belongs)).rowcount
        deltas.count(child, "deleted", deleted)
        total += deleted
    return total
