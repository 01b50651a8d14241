"""The batch processors of the retention run: one ILS transaction per batch.

* ``strip_by_key``     aggregate (optional), scrub free text, re-point the patron link — tables with a one-column key;
* ``strip_by_slice``   the same for tables without a key (Koha's ``statistics``), in slices of the age column;
* ``delete_rows``      delete rows (action logs, notices, search history, …);
(expired patrons are removed by ``patrons.remove_patrons`` on the same machinery.)

Every batch goes through the ledger (prepare → ILS commit → complete), so a
run killed at any point neither loses nor double-counts a row. Keyset paging
on the key (or the age column), set-based SQL per batch, never a query per row.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from .. import faults
from ..errors import TransientError
from .aggregate import PATRON_AT, circulation_rows
from .children import delete_children
from .context import IN_CHUNK, RunContext, chunks, driver_rows, in_list  # noqa: F401 (re-exported)
from .ledger import Deltas
from .progress import batch_line
from .removed import DELETED_IN_KOHA, count_patron_records, is_patron_copy
from .packedrows import row_chunks  # driver_rows' tuples, in chunks; on MariaDB fetched packed
from .scope import RowScope
from .scrub import PatronIdentifiers, scrub_text


class BatchMismatchError(TransientError):
    """A batch touched a different number of rows than it selected: the ILS changed under it.
    Nothing of the batch was committed; trying again redoes it on the new state."""


def keys_in(column: sa.ColumnElement, keys: list[int], dialect: str) -> sa.ColumnElement[bool]:
    """``column IN keys`` as one bound value: a JSON array on SQLite, an array on PostgreSQL
    (no per-key parameters to compile); on MariaDB/MySQL the integers written into the SQL
    (``keysets.mysql_keys_in``)."""
    from .keysets import MYSQL_DIALECTS, mysql_keys_in

    if dialect == "sqlite":
        values = sa.func.json_each(sa.bindparam("batch_keys", json.dumps(keys), type_=sa.String)).table_valued("value")
        return column.in_(sa.select(values.c.value))
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("batch_keys", keys, type_=postgresql.ARRAY(sa.Integer)))
    if dialect in MYSQL_DIALECTS:
        return mysql_keys_in(column, keys)
    return column.in_(keys)


# ----------------------------------------------------------------------------- helpers
def aggregate_into(conn: Connection, ctx: RunContext, scope: RowScope, where, deltas: Deltas,
                   patrons: set | None = None) -> int:
    """Add the matching rows to ``deltas``; return how many rows were aggregated (and add their patrons
    to ``patrons`` if given)."""
    spec = scope.table_map.aggregate
    total = 0
    # read in chunks: a batch's rows are never all in memory at once, whatever the batch size
    for rows in row_chunks(conn, circulation_rows(scope, ctx.shape, ctx.pii_map, spec, where), dates_as_text=True):
        if patrons is not None:
            patrons.update(row[PATRON_AT] for row in rows)
        total += deltas.add_facts(scope.name, rows, ctx.hash_key)
    return total


def scrub_free_text(conn: Connection, ctx: RunContext, scope: RowScope, where) -> int:
    """Scrub the free-text columns of the matching rows of their patron's identifiers; return rows changed."""
    text_cols = [c for c in scope.table_map.columns_with("free_text") if c in scope.table.c]
    if not text_cols:
        return 0
    t, patrons = scope.table, ctx.shape.tables[ctx.pii_map.patron_table]
    ident_cols = [c for c in ("firstname", "surname", "othernames", "cardnumber", "email", "phone", "mobile")
                  if c in patrons.c]
    keys = scope.key_columns() or [scope.age, scope.link]
    query = (
        sa.select(*keys, *(t.c[c] for c in text_cols), *(patrons.c[c] for c in ident_cols))
        .select_from(t.outerjoin(patrons, patrons.c[scope.table_map.link_to or ctx.pii_map.patron_key] == scope.link))
        .where(sa.or_(*(t.c[c].is_not(None) for c in text_cols)), where)  # cheap test first
    )
    updates: list = []  # keyed: (key, new texts…) tuples; keyless: dicts of bind values
    known: dict[tuple, PatronIdentifiers] = {}  # a patron's rows come in runs: build their identifiers once
    n_keys, n_text, keyed = len(keys), len(text_cols), bool(scope.key_columns())
    # keyed: the driver's plain tuples (packed on MariaDB), read in chunks; keyless (matched by age, link and
    # old text): SQLAlchemy's rows (SQLite's DATETIME binds need the datetime its result processing gives)
    for chunk in (row_chunks(conn, query) if keyed else [conn.execute(query).all()]):
        for row in chunk:
            ident = row[n_keys + n_text:]
            who = known.get(ident)
            if who is None:
                values = dict(zip(ident_cols, ident))
                who = known[ident] = PatronIdentifiers.from_values(
                    values.get("firstname"), values.get("surname"), values.get("othernames"),
                    values.get("cardnumber"), values.get("email"), (values.get("phone"), values.get("mobile")))
            old = row[n_keys:n_keys + n_text]
            new = [scrub_text(v, who) for v in old]
            if list(new) != list(old):
                if keyed:
                    updates.append((*row[:n_keys], *new))
                else:
                    updates.append({f"k{i}": v for i, v in enumerate(row[:n_keys])}
                                   | {f"o{i}": v for i, v in enumerate(old)} | {f"n{i}": v for i, v in enumerate(new)})
    if updates and keyed and n_keys == 1 and ctx.dialect != "sqlite":
        _update_by_key(conn, ctx, t, keys[0], text_cols, updates)
    elif updates and keyed:  # SQLite, in process: an executemany of driver SQL and plain tuples
        quote = conn.dialect.identifier_preparer
        sets = ", ".join(f"{quote.quote(c)} = ?" for c in text_cols)
        where = " AND ".join(f"{quote.quote(k.name)} = ?" for k in keys)
        conn.exec_driver_sql(f"UPDATE {quote.format_table(t)} SET {sets} WHERE {where}",
                             [(*u[n_keys:], *u[:n_keys]) for u in updates])
    elif updates:  # a composite key on a server, or no key at all
        conditions = [k == sa.bindparam(f"k{i}") for i, k in enumerate(keys)]
        if keyed:
            updates = [{f"k{i}": u[i] for i in range(n_keys)} | {f"n{i}": u[n_keys + i] for i in range(n_text)}
                       for u in updates]
        else:
            conditions += [t.c[c] == sa.bindparam(f"o{i}") for i, c in enumerate(text_cols)]
        stmt = t.update().where(*conditions).values({c: sa.bindparam(f"n{i}") for i, c in enumerate(text_cols)})
        conn.execute(stmt, updates)
    return len(updates)


CASE_CHUNK = 1000


def _update_by_key(conn: Connection, ctx: RunContext, t: sa.Table, key: sa.Column, text_cols: list[str],
                   updates: list[tuple]) -> None:
    """The scrubbed texts written ``CASE_CHUNK`` rows per ``UPDATE … SET col = CASE key WHEN … END``.

    On a server an executemany ``UPDATE`` is one round trip per row (pymysql and psycopg send them one by
    one): 40,000 noted fines were 40,000 round trips, three times the rest of their batch. SQLite, in
    process, keeps the executemany. The statement is written as driver SQL with positional parameters
    (both pymysql and psycopg take ``%s``): built as SQLAlchemy expressions, its two bound values per row
    cost more to construct and compile than the server took to run it. Integer keys only (written into
    the ``IN`` list); any other key type keeps the expression form."""
    if not isinstance(key.type, sa.Integer):
        for start in range(0, len(updates), CASE_CHUNK):
            part = updates[start:start + CASE_CHUNK]
            values = {c: sa.case({u[0]: u[1 + i] for u in part}, value=key, else_=t.c[c])
                      for i, c in enumerate(text_cols)}
            conn.execute(t.update().where(keys_in(key, [u[0] for u in part], ctx.dialect)).values(values))
        return
    quote = conn.dialect.identifier_preparer
    table, k = quote.format_table(t), quote.quote(key.name)
    for start in range(0, len(updates), CASE_CHUNK):
        part = updates[start:start + CASE_CHUNK]
        whens = " ".join(["WHEN %s THEN %s"] * len(part))
        sets, params = [], []
        for i, c in enumerate(text_cols):
            column = quote.quote(c)
            sets.append(f"{column} = CASE {k} {whens} ELSE {column} END")
            for u in part:
                params += (int(u[0]), u[1 + i])
        ids = ", ".join(str(int(u[0])) for u in part)
        conn.exec_driver_sql(f"UPDATE {table} SET {', '.join(sets)} WHERE {k} IN ({ids})", tuple(params))


def _run_batch(ctx: RunContext, work: Callable[[Connection], tuple[dict, Deltas, int, int] | None],
               table: str, action: str, scope: str) -> tuple[Deltas, int] | None:
    """One ILS transaction: ``work`` selects and acts; the ledger prepares before the ILS commits."""
    with ctx.ils.begin() as conn:
        result = work(conn)
        if result is None:
            return None
        selector, deltas, rows, scrubbed = result
        batch_id = ctx.ledger.prepare(run_id=ctx.run_id, table=table, action=action, scope=scope,
                                      selector=selector, deltas=deltas, row_count=rows, scrubbed=scrubbed)
        faults.reach("after-prepare")
    faults.reach("after-ils-commit")
    ctx.ledger.complete(batch_id, deltas)
    ctx.batch_ids.append(batch_id)
    return deltas, rows


def _check(expected: int, got: int, what: str) -> None:
    if expected != got:
        raise BatchMismatchError(f"{what}: selected {expected:,} rows but changed {got:,}; "
                                 "the ILS changed under the run — rerun it")


# ----------------------------------------------------------------------------- processors
def _loop(ctx: RunContext, name: str, action: str, work, total: Deltas, verb: str) -> Deltas:
    """Run batches until ``work`` finds nothing; ``work(conn, state)`` pages with ``state``."""
    state: dict = {"last": None}
    while (done := _run_batch(ctx, lambda conn: work(conn, state), name, action, "schedule")):
        merge_counts(total, done[0])
        state["last"] = state.pop("next")
        ctx.progress(batch_line(name, total.counts[name].get(verb, 0), verb))
    return total


def keyset_batches(ctx: RunContext, name: str, key: sa.Column, eligible: sa.ColumnElement[bool], action: str,
                   verb: str, act: Callable[[Connection, sa.ColumnElement[bool], list, Deltas], tuple[int, int]]
                   ) -> Deltas:
    """Page the eligible rows of ``name`` by its one-column ``key``, ``batch_size`` keys per batch (selected and
    locked), and ``act(conn, selected, keys, deltas) -> (changed, scrubbed)`` on exactly those rows."""
    scope = ctx.scope(name)

    def work(conn: Connection, state: dict):
        query = sa.select(key).select_from(scope.source).where(eligible).order_by(key).limit(ctx.batch_size)
        if state["last"] is not None:
            query = query.where(key > state["last"])
        keys = [row[0] for row in driver_rows(conn, ctx.lock(query, scope.table))]
        if not keys:
            return None
        state["next"] = keys[-1]
        deltas = Deltas()
        # exactly the rows just selected (and locked), without evaluating eligibility again
        selected = sa.and_(key >= keys[0], key <= keys[-1], keys_in(key, keys, ctx.dialect))
        changed, scrubbed = act(conn, selected, keys, deltas)
        return {"keys": keys}, deltas, changed, scrubbed

    return _loop(ctx, name, action, work, Deltas(), verb)


def strip_by_key(ctx: RunContext, name: str, cutoff: dt.date, aggregate: bool) -> Deltas:
    """Aggregate (optionally), scrub and strip eligible rows of a table with a one-column key."""
    scope = ctx.scope(name)
    (key,) = scope.key_columns()
    return keyset_batches(
        ctx, name, key, scope.eligible(cutoff), "aggregate_then_strip" if aggregate else "strip", "stripped",
        lambda conn, selected, keys, deltas: strip_rows(conn, ctx, scope, selected, len(keys), aggregate, deltas))


def strip_rows(conn: Connection, ctx: RunContext, scope: RowScope, selected: sa.ColumnElement[bool],
               expected: int, aggregate: bool, deltas: Deltas) -> tuple[int, int]:
    """Aggregate, scrub and strip the ``expected`` rows matching ``selected``; return (stripped, scrubbed)."""
    if aggregate:
        _check(expected, aggregate_into(conn, ctx, scope, selected, deltas), f"{scope.name} aggregation")
        deltas.count(scope.name, "aggregated", expected)
    scrubbed = scrub_free_text(conn, ctx, scope, selected)
    changed = conn.execute(scope.table.update().where(selected).values({scope.link.name: ctx.anonymous_value})).rowcount
    _check(expected, changed, f"{scope.name} strip")
    deltas.count(scope.name, "stripped", changed)
    deltas.count(scope.name, "scrubbed", scrubbed)
    return changed, scrubbed


def strip_by_slice(ctx: RunContext, name: str, cutoff: dt.date, aggregate: bool) -> Deltas:
    """The same for a table without a key (Koha's statistics): slices of the age column, plus their patrons.

    A slice is every eligible row up to the age of the ``batch_size``-th one (ties included). Its rows are
    read once — the aggregation's own rows, or just their links when there is nothing to aggregate —
    which gives the row count and the slice's patrons (kept in the ledger for recovery); one ``UPDATE``
    then strips exactly the rows selected (same predicate, same transaction, rows locked on servers)."""
    scope = ctx.scope(name)
    eligible, age, link = scope.eligible(cutoff), scope.age, scope.link

    def work(conn: Connection, state: dict):
        base = sa.and_(eligible, age > state["last"]) if state["last"] is not None else eligible
        upper = conn.execute(sa.select(age).where(base).order_by(age).offset(ctx.batch_size - 1).limit(1)).scalar()
        if upper is None:
            upper = conn.execute(sa.select(sa.func.max(age)).where(base)).scalar()
        if upper is None:
            return None
        state["next"] = upper
        if scope.orphaned is None:
            # ``upper`` is an eligible row's age, so every row up to it is past the cutoff: the cutoff is left
            # out, or the database bounds its index range by the cutoff rather than by the slice and scans
            # every later slice's rows again for each slice (quadratic in the table: measured 3.5x the floor
            # at 2.3 M statistics rows, against 1.5x at 460,000)
            after = [age > state["last"]] if state["last"] is not None else []
            selected = sa.and_(*scope.identifying, sa.not_(scope.exempt()), *after, age <= upper)
        else:  # orphans are eligible whatever their age: keep the whole predicate
            selected = sa.and_(base, age <= upper)
        deltas = Deltas()
        if aggregate:
            if ctx.dialect != "sqlite":  # lock first (SQLite's write transaction already excludes writers)
                # counted on the server: reading one row back per locked row cost as much as the aggregation
                locked = ctx.lock(sa.select(sa.literal_column("1")).select_from(scope.table).where(selected), scope.table)
                conn.execute(sa.select(sa.func.count()).select_from(locked.subquery("locked"))).scalar()
            patrons: set = set()
            rows = aggregate_into(conn, ctx, scope, selected, deltas, patrons)
            deltas.count(name, "aggregated", rows)
        else:
            links = [r[0] for r in driver_rows(conn, ctx.lock(sa.select(link).where(selected), scope.table))]
            rows, patrons = len(links), set(links)
        scrubbed = scrub_free_text(conn, ctx, scope, selected)
        changed = conn.execute(scope.table.update().where(selected).values({link.name: ctx.anonymous_value})).rowcount
        _check(rows, changed, f"{name} strip")
        deltas.count(name, "stripped", changed)
        deltas.count(name, "scrubbed", scrubbed)
        selector = {"slice": [state["last"], upper], "patrons": sorted(patrons)}
        return selector, deltas, changed, scrubbed

    return _loop(ctx, name, "aggregate_then_strip" if aggregate else "strip", work, Deltas(), "stripped")


def delete_rows(ctx: RunContext, name: str, cutoff: dt.date) -> Deltas:
    """Delete eligible rows: keyset on the key where there is one, else on the patron link."""
    scope = ctx.scope(name)
    keys_cols = scope.key_columns()
    page = keys_cols[0] if len(keys_cols) == 1 else scope.link
    eligible = scope.eligible(cutoff)
    # copies of patrons deleted in Koha: who they were is counted (registrations) before the copy goes
    copies = is_patron_copy(ctx.pii_map.tables.get(name), scope.table)

    def work(conn: Connection, state: dict):
        query = sa.select(page).select_from(scope.source).where(eligible).order_by(page).limit(ctx.batch_size)
        if page is scope.link:
            query = query.distinct()  # no row lock (not allowed with DISTINCT); the DELETE re-checks eligibility
        else:
            query = ctx.lock(query, scope.table)
        if state["last"] is not None:
            query = query.where(page > state["last"])
        values = conn.execute(query).scalars().all()
        if not values:
            return None
        state["next"] = values[-1]
        by_link = page is scope.link
        deltas = Deltas()
        deleted = 0
        # by key: the batch's keys in one statement (``keys_in``: no per-key bind parameters to compile)
        for chunk in (chunks(values) if by_link else [values]):
            these = (sa.and_(eligible, page.in_(chunk)) if by_link
                     else sa.and_(page >= chunk[0], page <= chunk[-1], keys_in(page, chunk, ctx.dialect)))
            delete_children(conn, ctx, name, these, deltas)  # rows that belong to these (Koha's FK cascades)
            if copies:
                count_patron_records(conn, scope.table, these, deltas, DELETED_IN_KOHA)
            deleted += conn.execute(scope.table.delete().where(these)).rowcount
        if not by_link:
            _check(len(values), deleted, f"{name} delete")
        deltas.count(name, "deleted", deleted)
        return {"patrons" if by_link else "keys": values}, deltas, deleted, 0

    return _loop(ctx, name, "delete", work, Deltas(), "deleted")


def merge_counts(total: Deltas, deltas: Deltas) -> None:
    for table, counts in deltas.counts.items():
        for what, n in counts.items():
            total.count(table, what, n)
