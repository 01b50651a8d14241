"""The Director's ad-hoc purge: a scope acted on now, through the same engine and ledger.

Scopes:

* ``older-than:N`` — everything the schedule covers that is older than N
  days now (each record class's period becomes min(its period, N));
* ``patron:B`` — one patron's reading history at the patron's request: their
  loans, holds and circulation statistics are aggregated and stripped, their
  searches and last-borrower rows deleted, whatever their age and even if
  they had opted in to keep history. Legal holds and money owed still keep
  rows (a purge never destroys what a court or an unpaid fine needs).

Only with a verified written authorization of the Director or a designee
(checked by the caller through the gateway, which hands in a ``claim`` that
records the authorization's single use under the run lock, before the first
ILS write); dry run unless confirmed.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from contextlib import ExitStack
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import InputError
from ..policy import LoadedPolicy
from .batches import RunContext, _check, _run_batch, aggregate_into, scrub_free_text
from .children import delete_children
from .ledger import Deltas

SCOPE = re.compile(r"^(?:(?P<older>older-than):(?P<days>[0-9]{1,5})|(?P<patron>patron):(?P<number>[0-9]{1,12}))$")


@dataclass(frozen=True)
class PurgeScope:
    kind: str                 # "older_than" | "patron"
    days: int | None = None
    borrowernumber: int | None = None

    def describe(self) -> str:
        if self.kind == "older_than":
            return f"everything older than {self.days} days"
        return f"the reading history of patron {self.borrowernumber}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "days": self.days, "borrowernumber": self.borrowernumber}


def parse_scope(text: str) -> PurgeScope:
    match = SCOPE.match(text.strip())
    if not match:
        raise InputError(f"--scope: {text!r} is not a scope; expected older-than:DAYS (e.g. older-than:30) "
                         "or patron:BORROWERNUMBER (e.g. patron:1234)")
    if match["older"]:
        return PurgeScope("older_than", days=int(match["days"]))
    return PurgeScope("patron", borrowernumber=int(match["number"]))


def policy_for_scope(loaded: LoadedPolicy, scope: PurgeScope) -> LoadedPolicy:
    """The adopted schedule with every period shortened to the scope's days."""
    if scope.kind != "older_than":
        return loaded
    schedule = [rule.model_copy(update={"keep_days": min(rule.keep_days, scope.days)})
                for rule in loaded.policy.retention.schedule]
    retention = loaded.policy.retention.model_copy(update={"schedule": schedule})
    return LoadedPolicy(policy=loaded.policy.model_copy(update={"retention": retention}),
                        path=loaded.path, sha256=loaded.sha256)


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


def now_day(loaded: LoadedPolicy) -> dt.date:
    return dt.datetime.now(loaded.policy.tz).date()


def _patron_history_plan(ctx: RunContext, borrowernumber: int) -> dict[str, int]:
    plan = {}
    with ctx.ils.connect() as conn:
        for name in patron_history_tables(ctx):
            scope = ctx.scope(name)
            kept = [pred for kind, pred in scope.exemptions if kind != "patron_keeps_history"]
            mine = sa.and_(*scope.identifying, scope.link == borrowernumber, *(sa.not_(p) for p in kept))
            plan[name] = conn.execute(sa.select(sa.func.count()).select_from(scope.table).where(mine)).scalar()
    return plan


def run_purge(ils_url: str | None, loaded: LoadedPolicy, scope: PurgeScope, *, store_url: str | None,
              confirm: bool, authorized_by: str, batch_size: int = 20_000, progress=None,
              lock_wait: float | None = None, as_of: dt.date | None = None, claim=None) -> dict:
    """Show (dry run) or do the purge; the caller has already had the authorization verified.

    Confirmed, it holds the run lock of the store and the ILS (:mod:`.runlock`) from planning to the audit
    entry, so it never runs alongside a retention run or another purge. ``as_of`` is the day the
    authorization was bound to (default today in the policy's time zone); ``claim(store)``, if given, runs
    once the lock is held and the purge planned, before anything is written: it records the authorization's
    use, and raising there stops the purge with nothing done."""
    from ..audit import append_event, checkpoint, hashed_patron
    from ..ils.piimap import builtin_pii_map
    from ..store import opened_store
    from .batches import merge_counts
    from .aggdelete import act_on_table
    from .batchaudit import audit_dead_runs, pending_ids, what_recovery_did
    from .engine import apply_to_table, make_context, recover_pending_batches, tables_in_order
    from .exposure import build_exposure_report
    from .plan import out_of_scope_findings
    from .report import opened_ils
    from .runlock import DEFAULT_LOCK_WAIT, run_lock

    day = as_of or now_day(loaded)
    pii_map = builtin_pii_map("koha")
    with ExitStack() as stack:
        engine, shape = stack.enter_context(opened_ils(ils_url, write=confirm))
        out_of_scope_findings(shape, loaded)  # unmapped patron data stops a purge as it stops a run
        store = stack.enter_context(opened_store(store_url))
        run_id = str(uuid.uuid4())
        if confirm:
            stack.enter_context(run_lock(engine, store, run_id=run_id, what="purge", progress=progress,
                                         wait=DEFAULT_LOCK_WAIT if lock_wait is None else lock_wait))
        holds = frozenset(store.active_legal_holds())
        ctx = make_context(engine, shape, pii_map, loaded, store, holds, batch_size, progress, run_id)
        if scope.kind == "older_than":
            policy = policy_for_scope(loaded, scope)
            before = build_exposure_report(engine, shape, pii_map, policy, day, holds)
            plan = {t.table: t.actionable for t in before.tables if t.actionable}
        else:
            policy = loaded
            plan = {k: v for k, v in _patron_history_plan(ctx, scope.borrowernumber).items() if v}
        result = {"scope": scope.as_dict(), "as_of": day.isoformat(), "dry_run": not confirm, "plan": plan,
                  "done": {}, "batches": 0}
        if claim is not None:   # planned (reads only); before the first write
            claim(store)
        if not confirm:
            return result
        prepared = pending_ids(store)
        recover_pending_batches(ctx)
        if prepared:  # a killed run's work (a retention run lists whatever else no event lists yet)
            audit_dead_runs(store, run_id, what_recovery_did(store, prepared))
        done = Deltas()
        if scope.kind == "older_than":
            for table in tables_in_order(pii_map, shape):
                merge_counts(done, act_on_table(ctx, policy, table, day, apply=apply_to_table))
        else:
            merge_counts(done, purge_patron_history(ctx, scope.borrowernumber))
        result["done"] = {k: dict(v) for k, v in done.counts.items()}
        result["batches"] = len(ctx.batch_ids)
        payload = {"scope": {**scope.as_dict(), "borrowernumber": None}, "counts": result["done"],
                   "batch_ids": ctx.batch_ids, "policy_version": loaded.version, "authorized_by": authorized_by}
        if scope.borrowernumber is not None:
            payload["scope"]["patron_hash"] = hashed_patron(scope.borrowernumber)
        with store.engine.begin() as conn:
            append_event(conn, store["audit_events"], "purge", payload)
        checkpoint(store)
        return result
