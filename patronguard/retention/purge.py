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

from ..audit import append_event, checkpoint, hashed_patron
from ..errors import InputError
from ..ils.piimap import builtin_pii_map
from ..policy import LoadedPolicy
from ..store import opened_store
from .aggdelete import act_on_table
from .batchaudit import audit_dead_runs, pending_ids, what_recovery_did
from .batches import merge_counts
from .engine import apply_to_table, make_context, recover_pending_batches, tables_in_order
from .exposure import build_exposure_report
from .ledger import Deltas
from .patron_history import patron_history_plan, purge_patron_history
from .plan import out_of_scope_findings
from .report import opened_ils
from .runlock import DEFAULT_LOCK_WAIT, run_lock
from .context import DEFAULT_BATCH_SIZE

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


def now_day(loaded: LoadedPolicy) -> dt.date:
    return dt.datetime.now(loaded.policy.tz).date()


def run_purge(ils_url: str | None, loaded: LoadedPolicy, scope: PurgeScope, *, store_url: str | None,
              confirm: bool, authorized_by: str, batch_size: int = DEFAULT_BATCH_SIZE, progress=None,
              lock_wait: float | None = None, as_of: dt.date | None = None, claim=None,
              recorded: dict | None = None) -> dict:
    """Show (dry run) or do the purge; the caller has already had the authorization verified.

    Confirmed, it holds the run lock of the store and the ILS (:mod:`.runlock`) from planning to the audit
    entry, so it never runs alongside a retention run or another purge. ``as_of`` is the day the
    authorization was bound to (default today in the policy's time zone); ``claim(store)``, if given, runs
    once the lock is held and the purge planned, before anything is written: it records the authorization's
    use, and raising there stops the purge with nothing done. ``recorded`` (who acted, the Prefect flow run)
    is added to the purge's audit event."""
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
            plan = {k: v for k, v in patron_history_plan(ctx, scope.borrowernumber).items() if v}
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
                   "batch_ids": ctx.batch_ids, "policy_version": loaded.version, "authorized_by": authorized_by,
                   **(recorded or {})}
        if scope.borrowernumber is not None:
            payload["scope"]["patron_hash"] = hashed_patron(scope.borrowernumber)
        with store.engine.begin() as conn:
            append_event(conn, store["audit_events"], "purge", payload)
        checkpoint(store)
        return result
