"""One patron's reading history, purged at the patron's request (``purge --scope patron:B``): the batch that
aggregates and strips (or deletes) it, what it would act on, and how recovery tells whether a killed batch of
it was applied.

Below both the engine (whose recovery asks :func:`still_in_patron_history`) and the Director's purge
(:mod:`.purge`, which runs :func:`purge_patron_history`), so neither imports the other to reach it.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .batches import RunContext, _check, _run_batch, aggregate_into, scrub_free_text
from .children import delete_children
from .ledger import Deltas


def patron_history_tables(ctx: RunContext) -> list[str]:
    """Tables of §1(a) records (materials requested or obtained) that the ILS has."""
    return [name for name, t in ctx.pii_map.tables.items()
            if t.category == "a" and t.lifecycle == "history" and name in ctx.shape.tables]


def purge_patron_history(ctx: RunContext, borrowernumber: int) -> Deltas:
    """One batch: the patron's §1(a) history aggregated and stripped (or deleted), exactly once."""
    tables = patron_history_tables(ctx)

    def work(conn: Connection):
        deltas, rows, scrubbed, kept_rows = Deltas(), 0, 0, 0
        for name in tables:
            scope = ctx.scope(name)
            kept = [pred for kind, pred in scope.exemptions if kind != "patron_keeps_history"]
            theirs = sa.and_(*scope.identifying, scope.link == borrowernumber)
            mine = sa.and_(theirs, *(sa.not_(p) for p in kept))
            count = conn.execute(sa.select(sa.func.count()).select_from(scope.table).where(mine)).scalar()
            linked = conn.execute(sa.select(sa.func.count()).select_from(scope.table).where(theirs)).scalar()
            kept_rows += linked - count
            if not count:
                continue
            if scope.table_map.aggregate is not None:
                _check(count, aggregate_into(conn, ctx, scope, mine, deltas), f"{name} aggregation")
                deltas.count(name, "aggregated", count)
                scrubbed += scrub_free_text(conn, ctx, scope, mine)
                changed = conn.execute(scope.table.update().where(mine)
                                       .values({scope.link.name: ctx.anonymous_value})).rowcount
                _check(count, changed, f"{name} strip")
                deltas.count(name, "stripped", changed)
                deltas.count(name, "scrubbed", scrubbed)
            else:
                delete_children(conn, ctx, name, mine, deltas)
                deleted = conn.execute(scope.table.delete().where(mine)).rowcount
                deltas.count(name, "deleted", deleted)
            rows += count
        if not rows:
            return None
        # recovery compares what still links the patron with what the batch left on purpose
        return {"patron": borrowernumber, "tables": tables, "kept": kept_rows}, deltas, rows, scrubbed

    done = _run_batch(ctx, work, "patron_history", "purge", "patron")
    return done[0] if done else Deltas()


def still_in_patron_history(conn: Connection, ctx: RunContext, selector: dict) -> int:
    """Recovery: rows of a patron-history batch that still link the patron, beyond those it kept on purpose."""
    total = 0
    for name in selector["tables"]:
        scope = ctx.scope(name)
        total += conn.execute(sa.select(sa.func.count()).select_from(scope.table)
                              .where(*scope.identifying, scope.link == selector["patron"])).scalar()
    return total - selector["kept"]


def patron_history_plan(ctx: RunContext, borrowernumber: int) -> dict[str, int]:
    plan = {}
    with ctx.ils.connect() as conn:
        for name in patron_history_tables(ctx):
            scope = ctx.scope(name)
            kept = [pred for kind, pred in scope.exemptions if kind != "patron_keeps_history"]
            mine = sa.and_(*scope.identifying, scope.link == borrowernumber, *(sa.not_(p) for p in kept))
            plan[name] = conn.execute(sa.select(sa.func.count()).select_from(scope.table).where(mine)).scalar()
    return plan
