"""``patronguard retention run`` end to end, as plain Python (the flow runs the same steps as tasks)."""
from __future__ import annotations

import datetime as dt
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import settings
from ..audit import append_event, checkpoint
from ..ils.piimap import builtin_pii_map
from ..ils.shape import IlsShape
from ..policy import LoadedPolicy, load_policy
from ..store import Store, open_store, opened_store
from ..validate import (
    AFTER_SUITE, ValidationSummary, after_parameters, after_suite_documents, load_suite_documents, require_valid,
    validate_ils,
)
from .aggdelete import act_on_table
from .asof import resolve_as_of
from .authorize import require_scheduled_run_allowed
from .batchaudit import append_dead_runs, audit_dead_runs, own_batches, pending_ids, what_recovery_did
from .batches import merge_counts
from .engine import (
    TableOutcome, apply_to_table, check_batch_size, make_context, outcome_dicts, outcomes,
    recover_pending_batches, tables_in_order,
)
from .exposure import ExposureReport, build_exposure_report
from .ledger import Deltas
from .plan import RetentionPlan, out_of_scope_findings, plan_run
from .preflight import require_separate_store
from .runlock import DEFAULT_LOCK_WAIT, run_lock
from .context import DEFAULT_BATCH_SIZE
from .report import open_ils, opened_ils, record_report
from .verify import Verification, require_verified, verify_retention


@dataclass
class RetentionRun:
    run_id: str
    as_of: dt.date
    dry_run: bool
    policy_library: str
    policy_version: str
    policy_sha256: str
    ils: str
    tables: list[TableOutcome]
    before: ExposureReport
    recovered: dict[str, int] = field(default_factory=dict)
    batch_ids: list[str] = field(default_factory=list)
    verification: Verification | None = None
    validation_before: dict | None = None
    validation_after: dict | None = None
    plan: RetentionPlan | None = None

    def summary(self) -> dict:
        """Counts, dates and ids only: what Prefect, the store and the audit log may keep."""
        return {
            "run_id": self.run_id, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
            "policy": {"library": self.policy_library, "version": self.policy_version, "sha256": self.policy_sha256},
            "tables": outcome_dicts(self.tables), "recovered": self.recovered,
            "batches": len(self.batch_ids),
            "verified": None if self.verification is None else self.verification.ok,
            "plan": None if self.plan is None else self.plan.to_dict(),
        }


def rows_before(engine: Engine, shape: IlsShape) -> dict[str, int]:
    """Row counts of the tables the after-suite checks, as ``rows_before_<table>`` parameters."""
    out = {}
    with engine.connect() as conn:
        for table in load_suite_documents(AFTER_SUITE):
            if table in shape.tables:
                count = conn.execute(sa.select(sa.func.count()).select_from(shape.tables[table])).scalar()
                out[f"rows_before_{table}"] = int(count)
    return out


def validate_after(engine: Engine, shape: IlsShape, loaded: LoadedPolicy, counts: dict[str, int],
                   run: RetentionRun) -> ValidationSummary:
    """The ``ils_after`` suite as the policy makes it (:mod:`patronguard.validate.after`): a table the policy
    strips keeps its row count, one it deletes from lost exactly the rows this run deleted."""
    pii_map = builtin_pii_map("koha")
    params = after_parameters(loaded.policy, pii_map, counts, {t.table: t.deleted for t in run.tables})
    return require_valid(validate_ils(engine, shape, AFTER_SUITE, parameters=params,
                                      documents=after_suite_documents(loaded.policy, pii_map)))


def audit_run(store: Store, run: RetentionRun, recorded: dict | None = None) -> None:
    """The run's audit event. An acting run (holding the run lock) lists its batches as the ledger has them,
    and first, in the same transaction, any finished batch of a dead run no event lists yet
    (:mod:`.batchaudit`). ``recorded``: what else the event names (the Prefect flow run; no patron value)."""
    with store.engine.begin() as conn:
        abandoned: list[str] = []
        if not run.dry_run:
            append_dead_runs(conn, store, run.run_id)
            run.batch_ids, abandoned = own_batches(conn, store, run.run_id)
        payload = run.summary() | {
            "cutoffs": {t.table: t.cutoff.isoformat() for t in run.tables},
            "batch_ids": run.batch_ids,
        } | (recorded or {})
        if abandoned:  # a failed attempt of one of this run's own steps, abandoned by its recovery
            payload["abandoned_batch_ids"] = abandoned
        append_event(conn, store["audit_events"], "retention-dry-run" if run.dry_run else "retention-run", payload)
    checkpoint(store)


def record_retention_run(store: Store, run: RetentionRun, started_at: dt.datetime,
                         recorded: dict | None = None) -> str:
    audit_run(store, run, recorded)
    return store.record_run(
        kind="retention-dry-run" if run.dry_run else "retention-run", started_at=started_at, as_of=run.as_of,
        ils=run.ils, policy_library=run.policy_library, policy_version=run.policy_version,
        policy_sha256=run.policy_sha256, outcome="ok", summary=run.summary(),
    )


def new_run(run_id: str, loaded: LoadedPolicy, before: ExposureReport, dry_run: bool) -> RetentionRun:
    return RetentionRun(
        run_id=run_id, as_of=before.as_of, dry_run=dry_run, policy_library=loaded.library,
        policy_version=loaded.version, policy_sha256=loaded.sha256, ils=before.ils,
        tables=outcomes(before, loaded, Deltas()), before=before,
    )


def run_retention(ils_url: str | None = None, policy_path: str | None = None, *, store_url: str | None = None,
                  as_of: str | dt.date | None = None, dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: Callable[[str], None] | None = None, lock_wait: float = DEFAULT_LOCK_WAIT,
                  measured: Callable[[ExposureReport], None] | None = None) -> RetentionRun:
    """Validate, measure, act batch by batch (unless ``dry_run``), verify, record.

    ``measured`` is given the exposure measured before acting (the rows each table will change: the totals
    of a progress display) before the first batch.

    Unless ``dry_run``, everything from validating to recording happens under the run lock of the store and
    the ILS (:mod:`.runlock`; waiting up to ``lock_wait`` seconds): one acting run at a time."""
    say = progress or (lambda _m: None)
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    check_batch_size(batch_size)
    loaded = load_policy(settings.policy_path(policy_path))
    require_scheduled_run_allowed(loaded)
    day = resolve_as_of(as_of, loaded.policy.tz)
    pii_map = builtin_pii_map("koha")
    require_separate_store(ils_url, store_url)  # before anything is opened: opening the store creates its tables
    engine, shape = open_ils(ils_url, write=not dry_run)
    with ExitStack() as held:
        held.callback(engine.dispose)
        out_of_scope_findings(shape, loaded)  # refuse unmapped patron data before anything else
        say(f"found {shape.release.describe()}")
        store = open_store(store_url)
        held.callback(store.engine.dispose)
        run_id = str(uuid.uuid4())
        if not dry_run:  # validated, measured, planned, acted on and verified by this run alone
            lock = held.enter_context(run_lock(engine, store, run_id=run_id, wait=lock_wait, progress=say))
        say("validating the ILS with the ils_source expectation suite")
        before_check: ValidationSummary = require_valid(validate_ils(engine, shape))
        holds = frozenset(store.active_legal_holds())
        ctx = make_context(engine, shape, pii_map, loaded, store, holds, batch_size, say, run_id)
        say("planning: every step built and rehearsed against this database's columns")
        plan = plan_run(ctx, loaded, day, tables_in_order(pii_map, shape), write=not dry_run)
        for line in plan.lines():
            say(line)
        say("measuring: rows past retention per table (the totals of the run)")
        before = build_exposure_report(engine, shape, pii_map, loaded, day, holds)
        if measured is not None:
            measured(before)
        if dry_run:
            run = new_run(str(uuid.uuid4()), loaded, before, True)
            run.validation_before, run.plan = before_check.to_dict(), plan
            record_retention_run(store, run, started)
            return run
        counts = rows_before(engine, shape)
        run = new_run(ctx.run_id, loaded, before, False)
        run.validation_before, run.plan = before_check.to_dict(), plan
        prepared = pending_ids(store)
        run.recovered = recover_pending_batches(ctx)
        if audit_dead_runs(store, ctx.run_id, what_recovery_did(store, prepared)):
            say("audited the work of a killed run (retention-recovered)")
        done = Deltas()
        for table in plan.tables:
            lock.ensure()
            merge_counts(done, act_on_table(ctx, loaded, table, day, apply=apply_to_table))
        run.tables, run.batch_ids = outcomes(before, loaded, done), list(ctx.batch_ids)
        say("verifying: nothing identifying left past retention, warehouse equals ledger")
        run.verification = require_verified(verify_retention(engine, shape, pii_map, loaded, day, store, holds))
        run.validation_after = validate_after(engine, shape, loaded, counts, run).to_dict()
        record_retention_run(store, run, started)
        return run


def verify_only(ils_url: str | None = None, policy_path: str | None = None, *, store_url: str | None = None,
                as_of: str | dt.date | None = None) -> Verification:
    """``patronguard retention verify``: read-only on both databases."""
    loaded = load_policy(settings.policy_path(policy_path))
    day = resolve_as_of(as_of, loaded.policy.tz)
    require_separate_store(ils_url, store_url)
    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        return verify_retention(engine, shape, builtin_pii_map("koha"), loaded, day, store,
                                frozenset(store.active_legal_holds()), audited=True)


__all__ = ["AFTER_SUITE", "RetentionRun", "record_report", "run_retention", "validate_after", "verify_only"]
