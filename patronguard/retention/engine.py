"""The retention run: apply the policy's schedule to every patron-data store of the ILS.

Order: recover batches a killed run left prepared; then every history table
in PII-map order (aggregate then strip, strip, or delete); expired patrons
last, so their remaining history is released before the patron row goes.
Each step is a plain function here; the ``nightly_retention`` flow calls them
as tasks, the CLI calls :func:`run_retention`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import TerminalError
from ..ils.piimap import PiiMap, builtin_pii_map
from ..ils.shape import IlsShape
from ..keys import SecretKeyError, fingerprint, patron_hash_key
from ..policy import LoadedPolicy
from ..store import Store
from .asof import cutoff_for
from .batches import RunContext, delete_rows, in_list, strip_by_key, strip_by_slice
from .patrons import remove_patrons
from .exposure import ExposureReport
from .ledger import Deltas, Ledger, unpack_json
from .patron_history import still_in_patron_history

MIN_BATCH, MAX_BATCH = 1, 100_000


class HalfAppliedBatchError(TerminalError):
    """A prepared batch is neither fully applied nor untouched in the ILS."""


@dataclass
class TableOutcome:
    table: str
    records: str
    action: str
    cutoff: dt.date
    examined: int = 0
    exempt: dict[str, int] = field(default_factory=dict)
    aggregated: int = 0
    stripped: int = 0
    scrubbed: int = 0
    deleted: int = 0
    anonymised: int = 0
    staff_links_cleared: int = 0


def check_batch_size(batch_size: int) -> int:
    from ..errors import InputError

    if not MIN_BATCH <= batch_size <= MAX_BATCH:
        raise InputError(f"--batch-size: {batch_size} is out of range; expected {MIN_BATCH} to {MAX_BATCH:,}")
    return batch_size


def anonymous_value(loaded: LoadedPolicy, shape: IlsShape) -> int | None:
    """What a stripped patron link becomes: Koha's AnonymousPatron (if the policy says so and it is set) or NULL."""
    if loaded.policy.retention.anonymous_patron == "koha_preference":
        return shape.anonymous_patron
    return None


def checked_hash_key(store: Store) -> bytes:
    """The patron-hash key, refusing one that differs from the key the warehouse was built with."""
    settings_table = store["store_settings"]
    with store.engine.begin() as conn:
        known = conn.execute(sa.select(settings_table.c.value)
                             .where(settings_table.c.name == "patron_hash_key_fingerprint")).scalar()
        key = patron_hash_key(create=known is None)
        if known is None:
            conn.execute(settings_table.insert().values(name="patron_hash_key_fingerprint", value=fingerprint(key)))
        elif known != fingerprint(key):
            raise SecretKeyError("the patron-hash key is not the one this store's warehouse was built with "
                                 "(fingerprint differs); restore var/keys/patron-hash.key or PATRONGUARD_HASH_KEY")
    return key


def make_context(ils: Engine, shape: IlsShape, pii_map: PiiMap, loaded: LoadedPolicy, store: Store,
                 legal_holds: frozenset[int], batch_size: int, progress: Callable[[str], None] | None = None,
                 run_id: str | None = None) -> RunContext:
    return RunContext(
        ils=ils, shape=shape, pii_map=pii_map, store=store, ledger=Ledger(store), run_id=run_id or str(uuid.uuid4()),
        legal_holds=legal_holds, hash_key=checked_hash_key(store), anonymous_value=anonymous_value(loaded, shape),
        batch_size=check_batch_size(batch_size), progress=progress or (lambda _m: None),
        actions=policy_actions(pii_map, loaded),
    )


def policy_actions(pii_map: PiiMap, loaded: LoadedPolicy) -> dict[str, str]:
    """Table → the policy's action for its record class."""
    return {name: loaded.policy.rule_for(t.records).action for name, t in pii_map.scheduled_tables().items()}


# ----------------------------------------------------------------------------- recovery
def _still_identifying(conn, ctx: RunContext, table: str, selector: dict, action: str = "") -> int:
    """How many rows a prepared batch selected still identify a patron (or, for patrons and deleted rows,
    still exist)."""
    pii_map, shape = ctx.pii_map, ctx.shape
    if table == "patron_history":  # a purge of one patron's reading history
        return still_in_patron_history(conn, ctx, selector)
    t, table_map = shape.tables[table], pii_map.tables[table]
    if table == pii_map.patron_table:
        condition = [in_list(t.c[pii_map.patron_key], selector["patrons"])]
    elif "slice" in selector:
        low, high = selector["slice"]
        age = t.c[table_map.age]
        condition = [age <= _typed(high, age), in_list(t.c[table_map.link], selector["patrons"])]
        if low is not None:
            condition.append(age > _typed(low, age))
    elif action == "delete":  # by key: a deleted row is gone, whatever its link was
        (key,) = table_map.key
        condition = [in_list(t.c[key], selector["keys"])]
    else:
        (key,) = table_map.key
        condition = [in_list(t.c[key], selector["keys"]), t.c[table_map.link].is_not(None)]
        if shape.anonymous_patron is not None:
            condition.append(t.c[table_map.link] != shape.anonymous_patron)
    return conn.execute(sa.select(sa.func.count()).select_from(t).where(*condition)).scalar()


def _typed(value, column):
    if isinstance(column.type, sa.DateTime):
        return dt.datetime.fromisoformat(str(value))
    return dt.date.fromisoformat(str(value)[:10])


def recover_pending_batches(ctx: RunContext) -> dict[str, int]:
    """Finish or abandon what a killed run left prepared; return how many of each.

    Never a live run's batch: the run holding the store's run lock (see :mod:`.runlock`) is alive, so its
    prepared batches are left alone unless it is this run (a failed attempt of one of its own steps). The
    holder is read after the pending list, so a batch in the list is either the holder's or a dead run's.
    Callers that act hold the lock themselves, which makes every other run's prepared batch a dead run's."""
    from .runlock import live_run_id

    outcome = {"completed": 0, "abandoned": 0}
    pending = ctx.ledger.pending()
    live = live_run_id(ctx.store) if pending else None
    for batch in pending:
        if live is not None and live != ctx.run_id and batch.run_id == live:
            ctx.progress(f"left batch {batch.batch_id} alone: its run {batch.run_id} is alive and holds the run lock")
            continue
        selector = unpack_json(batch.selector)
        if batch.action == "delete" and "keys" not in selector:
            # paged by patron: how many rows the DELETE took is not known before it ran, so there is nothing
            # to compare with; no warehouse deltas either, and leftovers are picked up again
            ctx.ledger.abandon(batch.batch_id)
            outcome["abandoned"] += 1
            continue
        with ctx.ils.connect() as conn:
            still = _still_identifying(conn, ctx, batch.table_name, selector, batch.action)
        if still == 0:
            ctx.ledger.complete(batch.batch_id)
            outcome["completed"] += 1
        elif still == batch.row_count or batch.action == "delete":
            # a delete batch's own transaction removes all its rows or none: rows left mean it rolled back
            # (some may have gone since, e.g. by Koha's cleanup_database.pl); they are picked up again
            ctx.ledger.abandon(batch.batch_id)
            outcome["abandoned"] += 1
        else:
            raise HalfAppliedBatchError(
                f"retention_batches: batch {batch.batch_id} on {batch.table_name} is half-applied "
                f"({still:,} of its rows still identify a patron): the ILS was changed outside patronguard; "
                "inspect the batch before rerunning")
    if any(outcome.values()):
        ctx.progress(f"recovered a killed run: {outcome['completed']} batches completed, "
                     f"{outcome['abandoned']} abandoned and redone")
    return outcome


# ----------------------------------------------------------------------------- acting
def apply_to_table(ctx: RunContext, loaded: LoadedPolicy, table: str, as_of: dt.date) -> Deltas:
    """Apply the policy's action for ``table``'s record class to its eligible rows."""
    table_map = ctx.pii_map.tables[table]
    ctx.as_of = as_of
    rule = loaded.policy.rule_for(table_map.records)
    cutoff = cutoff_for(as_of, rule.keep_days)
    if rule.action == "anonymise_then_delete":
        return remove_patrons(ctx, cutoff)
    if rule.action == "delete":
        return delete_rows(ctx, table, cutoff)
    aggregate = rule.action == "aggregate_then_strip"
    if len(table_map.key) == 1:
        return strip_by_key(ctx, table, cutoff, aggregate)
    return strip_by_slice(ctx, table, cutoff, aggregate)


def tables_in_order(pii_map: PiiMap, shape: IlsShape) -> list[str]:
    """Scheduled tables the ILS has, history first; the patron table last (it releases the rest)."""
    order = [name for name, t in pii_map.scheduled_tables().items()
             if name in shape.tables and t.lifecycle == "history" and not t.age_via_patron]
    return order + [pii_map.patron_table]


WITH_PATRON = "with_patron"   # the records of a row changed only because its patron was removed


def outcomes(before: ExposureReport, loaded: LoadedPolicy, done: Deltas) -> list[TableOutcome]:
    """One line per scheduled table, then one per table changed only as a side effect of removing
    patrons (their holds in progress, lists, files …), so no deletion goes unreported."""
    out, seen = [], set()
    for t in before.tables:
        seen.add(t.table)
        out.append(_outcome(t.table, t.records, t.action, t.cutoff, done.counts.get(t.table, {}),
                            examined=t.past_retention, exempt=dict(t.exempt)))
    patron_cutoff = next((t.cutoff for t in before.tables if t.records == "expired_patrons"), before.as_of)
    for table, counts in sorted(done.counts.items()):
        if table not in seen and counts:
            out.append(_outcome(table, WITH_PATRON, "deleted or stripped with the patron", patron_cutoff, counts))
    return out


def _outcome(table: str, records: str, action: str, cutoff: dt.date, counts: dict, **extra) -> TableOutcome:
    return TableOutcome(
        table=table, records=records, action=action, cutoff=cutoff, aggregated=counts.get("aggregated", 0),
        stripped=counts.get("stripped", 0), scrubbed=counts.get("scrubbed", 0), deleted=counts.get("deleted", 0),
        anonymised=counts.get("anonymised", 0), staff_links_cleared=counts.get("staff_links_cleared", 0), **extra,
    )


def outcome_dicts(items: list[TableOutcome]) -> list[dict]:
    return [asdict(o) | {"cutoff": o.cutoff.isoformat()} for o in items]


@contextmanager
def retention_context(ils_url: str | None, store_url: str | None, loaded: LoadedPolicy, legal_holds: frozenset[int],
                      batch_size: int, run_id: str, progress: Callable[[str], None] | None = None):
    """A RunContext on fresh connections (for one Prefect task), closed afterwards."""
    from ..store import opened_store
    from .report import opened_ils

    with opened_ils(ils_url, write=True, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        yield make_context(engine, shape, builtin_pii_map("koha"), loaded, store, legal_holds, batch_size,
                           progress, run_id)
