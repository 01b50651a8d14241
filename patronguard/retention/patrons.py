"""Expired patrons: everything naming them released, then the patron row anonymised and deleted.

For each batch of patrons, every other table that links to them is handled
by what the PII map and the policy say of it:

* history whose record class the policy aggregates then strips: aggregated, scrubbed, link re-pointed;
* history the policy deletes and the map aggregates (unless ``keep_statistics: false``): aggregated, then
  deleted (``aggdelete``; the action is in ``ctx.actions`` once ``aggdelete.use_policy_actions`` ran);
* history the policy strips (reviews, tags, suggestions …) and tables whose map says
  ``on_patron_removal: strip``: free text scrubbed, link re-pointed;
* everything else that is theirs (holds in progress, lists, files, photo, messaging
  preferences, consents, club enrolments …): deleted, child rows first;
* staff links (``manager_id``, ``issuer_id`` … when the removed patron was staff): set to NULL,
  so no number is left pointing at a person who is gone.

Every row changed is counted per table, so the run table, the artifact and the
audit event name each side deletion.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..ils.piimap import PSEUDONYM, TableMap
from ..policy.models import AGGREGATE_THEN_DELETE
from .aggdelete import delete_counted
from .batches import _check, _loop, aggregate_into, scrub_free_text, strip_rows
from .children import delete_children
from .context import RunContext, chunks, in_list
from .ledger import Deltas
from .removed import EXPIRED, count_patron_records
from .scope import RowScope


PATRONS_PER_BATCH = 2_000


def remove_patrons(ctx: RunContext, cutoff: dt.date) -> Deltas:
    """Expired patrons: history aggregated and stripped, other rows deleted, patron anonymised then deleted."""
    patron_table = ctx.pii_map.patron_table
    scope = ctx.scope(patron_table)
    (key,) = scope.key_columns()
    eligible = scope.eligible(cutoff)
    # a batch of patrons touches every table naming them (their remaining history is read to be aggregated):
    # fewer patrons than rows per batch keeps a batch's memory bounded however large the library
    size = min(ctx.batch_size, PATRONS_PER_BATCH)

    def work(conn: Connection, state: dict):
        query = sa.select(key).where(eligible).order_by(key).limit(size)
        if state["last"] is not None:
            query = query.where(key > state["last"])
        patrons = conn.execute(ctx.lock(query, scope.table)).scalars().all()
        if not patrons:
            return None
        state["next"] = patrons[-1]
        deltas = Deltas()
        scrubbed = release_patron_rows(conn, ctx, patrons, deltas)
        count_removed_patrons(conn, ctx, scope, patrons, deltas)
        anonymised, deleted = anonymise_and_delete(conn, ctx, scope, patrons)
        _check(len(patrons), deleted, f"{patron_table} delete")
        deltas.count(patron_table, "anonymised", anonymised)
        deltas.count(patron_table, "deleted", deleted)
        return {"patrons": patrons}, deltas, deleted, scrubbed

    return _loop(ctx, patron_table, "anonymise_then_delete", work, Deltas(), "deleted")


def anonymise_and_delete(conn: Connection, ctx: RunContext, scope: RowScope, patrons: list[int]) -> tuple[int, int]:
    """Blank the patrons' personal columns, clear other patrons' links to them, delete the rows."""
    patron_map = ctx.pii_map.tables[ctx.pii_map.patron_table]
    key = scope.key_columns()[0]
    wipe = {c.name: None for c in scope.table.c
            if c.nullable and c.name in patron_map.columns
            and patron_map.columns[c.name].role in ("identity", "quasi", "free_text")}
    anonymised = sum(conn.execute(scope.table.update().where(key.in_(chunk)).values(wipe)).rowcount
                     for chunk in chunks(patrons))
    # other patrons pointing at these (borrowers.guarantorid before borrower_relationships)
    for column in patron_map.columns_with("link"):
        if column != key.name and column in scope.table.c:
            conn.execute(scope.table.update().where(in_list(scope.table.c[column], patrons))
                         .values({column: None}))
    deleted = sum(conn.execute(scope.table.delete().where(key.in_(chunk))).rowcount for chunk in chunks(patrons))
    return anonymised, deleted


def naming(ctx: RunContext, table_map: TableMap, column: sa.ColumnElement, patrons: list[int]):
    """``column`` names one of ``patrons``: by key, or through the patron column the link holds."""
    if table_map.link_to is None or column.name != table_map.link:
        return in_list(column, patrons)
    p = ctx.shape.tables[ctx.pii_map.patron_table]
    return column.in_(sa.select(p.c[table_map.link_to]).where(in_list(p.c[ctx.pii_map.patron_key], patrons)))


def removal_action(ctx: RunContext, name: str, table_map: TableMap) -> str:
    """What happens to a table's rows naming a removed patron."""
    if table_map.lifecycle == "history" and name in ctx.actions:
        return ctx.actions[name]
    return table_map.on_patron_removal


def release_patron_rows(conn: Connection, ctx: RunContext, patrons: list[int], deltas: Deltas) -> int:
    """Every other row naming these patrons, handled as the module docstring says; return rows scrubbed."""
    scrubbed = 0
    for name, table_map in ctx.pii_map.tables.items():
        if name == ctx.pii_map.patron_table or name not in ctx.shape.tables:
            continue
        t = ctx.shape.tables[name]
        links = [t.c[c] for c in table_map.columns_with("link") if c in t.c]
        if links and table_map.link_to != PSEUDONYM:
            scrubbed += release_table(conn, ctx, name, table_map, links, patrons, deltas)
        # staff links that hold a patron key (not a login name such as pending_offline_operations.userid)
        staff = [c for c in table_map.columns_with("staff")
                 if c in t.c and t.c[c].nullable and isinstance(t.c[c].type, sa.Integer)]
        for column in staff:
            cleared = conn.execute(t.update().where(in_list(t.c[column], patrons)).values({column: None})).rowcount
            deltas.count(name, "staff_links_cleared", cleared)
    return scrubbed


def release_table(conn: Connection, ctx: RunContext, name: str, table_map: TableMap, links: list[sa.Column],
                  patrons: list[int], deltas: Deltas) -> int:
    t = ctx.shape.tables[name]
    action = removal_action(ctx, name, table_map)
    if action == "aggregate_then_strip" and table_map.aggregate is not None:
        scope = ctx.scope(name)
        mine = sa.and_(*scope.identifying, naming(ctx, table_map, scope.link, patrons))
        if len(scope.key_columns()) == 1:
            count = conn.execute(sa.select(sa.func.count()).select_from(t).where(mine)).scalar()
            return strip_rows(conn, ctx, scope, mine, count, True, deltas)[1] if count else 0
        rows = aggregate_into(conn, ctx, scope, mine, deltas)
        deltas.count(name, "aggregated", rows)
        scrubbed = scrub_free_text(conn, ctx, scope, mine)
        changed = sum(conn.execute(t.update().where(scope.link.in_(chunk))
                                   .values({scope.link.name: ctx.anonymous_value})).rowcount
                      for chunk in chunks(patrons))
        _check(rows, changed, f"{name} strip")
        deltas.count(name, "stripped", changed)
        return scrubbed
    if action == AGGREGATE_THEN_DELETE and table_map.aggregate is not None:
        scope = ctx.scope(name)
        delete_counted(conn, ctx, scope, sa.and_(*scope.identifying, naming(ctx, table_map, scope.link, patrons)),
                       deltas)
        return 0
    condition = sa.or_(*(naming(ctx, table_map, c, patrons) for c in links))
    if table_map.link_when:
        condition = sa.and_(condition, t.c[table_map.link_when.column].in_(table_map.link_when.in_))
    if action in ("strip", "aggregate_then_strip"):
        scrubbed = 0
        if table_map.age is not None and table_map.link is not None:  # a history table: scrub its free text
            scrubbed = scrub_free_text(conn, ctx, ctx.scope(name), condition)
        value = ctx.anonymous_value if table_map.links_patron_key else None
        for column in links:
            changed = conn.execute(t.update().where(naming(ctx, table_map, column, patrons))
                                   .values({column.name: value})).rowcount
            deltas.count(name, "stripped", changed)
        deltas.count(name, "scrubbed", scrubbed)
        return scrubbed
    delete_children(conn, ctx, name, condition, deltas)
    deltas.count(name, "deleted", conn.execute(t.delete().where(condition)).rowcount)
    return 0


def count_removed_patrons(conn: Connection, ctx: RunContext, scope: RowScope, patrons: list[int],
                          deltas: Deltas) -> None:
    """Demographics of the expired patrons about to go (:func:`patronguard.retention.removed.count_patron_records`)."""
    count_patron_records(conn, scope.table, in_list(scope.link, patrons), deltas, EXPIRED)
