"""Tasks of the nightly retention flow when it acts (the default; report mode is ``dry_run``)."""
from __future__ import annotations

import datetime as dt
import uuid

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from patronguard.ils.piimap import builtin_pii_map
from patronguard.ils.shape import IlsShape
from patronguard.policy import LoadedPolicy
from patronguard.retention import opened_ils
from patronguard.retention.batches import merge_counts
from patronguard.retention.engine import (
    apply_to_table, outcomes, recover_pending_batches, retention_context, tables_in_order,
)
from patronguard.retention.exposure import ExposureReport
from patronguard.retention.ledger import Deltas
from patronguard.retention.plan import RetentionPlan, out_of_scope_findings, plan_run
from patronguard.retention.render_run import render_run_markdown
from patronguard.retention.aggdelete import act_on_table
from patronguard.retention.batchaudit import audit_dead_runs, pending_ids, what_recovery_did
from patronguard.retention.run import RetentionRun, new_run, record_retention_run, rows_before, validate_after
from patronguard.retention.verify import Verification, require_verified, verify_retention
from patronguard.store import opened_store
from patronguard.validate import ValidationSummary

from .policy import DATABASE_IO, PATRON_DATA
from .progress import TaskProgress


@task(name="count-rows-before", **PATRON_DATA, **DATABASE_IO)
def count_rows_before(ils_url: str | None, shape: IlsShape) -> dict[str, int]:
    with opened_ils(ils_url, scan_unmapped=False) as (engine, _):
        return rows_before(engine, shape)


@task(name="refuse-unmapped-patron-data", **PATRON_DATA)
def refuse_unmapped_patron_data(shape: IlsShape, policy: LoadedPolicy) -> list[dict]:
    """Stop before anything is written if the ILS holds patron data no map covers (and the policy does not
    declare out of scope); return what the policy does declare out of scope."""
    return out_of_scope_findings(shape, policy)


@task(name="plan-retention", **PATRON_DATA, **DATABASE_IO)
def plan_retention(ils_url: str | None, store_url: str | None, policy: LoadedPolicy, run_date: dt.date,
                   legal_holds: frozenset[int], batch_size: int,
                   run_id: str | None = None) -> tuple[str, RetentionPlan]:
    """A run id (``run_id``, or a new one) and the plan: every table's step, in order, built and rehearsed
    against this database."""
    run_id = run_id or str(uuid.uuid4())
    with retention_context(ils_url, store_url, policy, legal_holds, batch_size, run_id) as ctx:
        plan = plan_run(ctx, policy, run_date, tables_in_order(ctx.pii_map, ctx.shape))
    for line in plan.lines():
        get_run_logger().info(line)
    return run_id, plan


@task(name="apply-retention", task_run_name="apply-retention-{table}", **PATRON_DATA, **DATABASE_IO)
def apply_retention_to_table(table: str, ils_url: str | None, store_url: str | None, policy: LoadedPolicy,
                             run_date: dt.date, legal_holds: frozenset[int], batch_size: int, run_id: str,
                             expected_rows: int = 0) -> dict:
    """Recover any batch a failed attempt left prepared, then act on ``table``. Counts only come back.

    Each batch is logged against ``expected_rows`` (the table's rows past retention, measured before
    acting) and moves the task's progress artifact (:mod:`tasks.progress`).

    Called under the flow's run lock (held by ``run_id``): recovery finishes a failed attempt's batches,
    since that attempt has ended, and the lock keeps every other run out."""
    progress = TaskProgress(table, expected_rows)
    with retention_context(ils_url, store_url, policy, legal_holds, batch_size, run_id, progress) as ctx:
        prepared = pending_ids(ctx.store)
        recovered = recover_pending_batches(ctx)
        if prepared:  # a killed run's work (record_run_and_audit lists whatever else no event lists yet)
            audit_dead_runs(ctx.store, run_id, what_recovery_did(ctx.store, prepared))
        deltas = act_on_table(ctx, policy, table, run_date, apply=apply_to_table)
        progress.done()
        return {"counts": {k: dict(v) for k, v in deltas.counts.items()}, "batch_ids": list(ctx.batch_ids),
                "recovered": recovered}


@task(name="summarise-run", **PATRON_DATA)
def summarise_run(run_id: str, policy: LoadedPolicy, before: ExposureReport, applied: list[dict],
                  plan: RetentionPlan | None = None) -> RetentionRun:
    done = Deltas()
    run = new_run(run_id, policy, before, dry_run=False)
    run.plan = plan
    for part in applied:
        step = Deltas()
        step.counts.update(part["counts"])
        merge_counts(done, step)
        run.batch_ids.extend(part["batch_ids"])
        for k, v in part["recovered"].items():
            run.recovered[k] = run.recovered.get(k, 0) + v
    run.tables = outcomes(before, policy, done)
    return run


@task(name="verify-retention", **PATRON_DATA, **DATABASE_IO)
def verify_after_run(ils_url: str | None, store_url: str | None, shape: IlsShape, policy: LoadedPolicy,
                     run_date: dt.date, legal_holds: frozenset[int]) -> Verification:
    with opened_ils(ils_url, scan_unmapped=False) as (engine, _), opened_store(store_url) as store:
        result = verify_retention(engine, shape, builtin_pii_map("koha"), policy, run_date, store, legal_holds)
    result.exposure = None
    return require_verified(result)


@task(name="validate-ils-after", **PATRON_DATA, **DATABASE_IO)
def validate_ils_after(ils_url: str | None, shape: IlsShape, counts: dict[str, int], policy: LoadedPolicy,
                       run: RetentionRun) -> ValidationSummary:
    """The ils_after suite as the policy makes it (row counts: stripped tables unchanged, deleted ones less
    exactly the rows the run deleted)."""
    with opened_ils(ils_url, scan_unmapped=False) as (engine, _):
        return validate_after(engine, shape, policy, counts, run)


@task(name="publish-run-artifact", **PATRON_DATA)
def publish_run_artifact(run: RetentionRun) -> str:
    create_markdown_artifact(key="retention-run", markdown=render_run_markdown(run),
                             description=f"Retention run as of {run.as_of.isoformat()} ({run.policy_library})")
    return "retention-run"


@task(name="record-retention-run", **PATRON_DATA, **DATABASE_IO)
def record_run_and_audit(store_url: str | None, run: RetentionRun, started_at: dt.datetime) -> str:
    from prefect.runtime import flow_run

    made_by = flow_run.get_id()  # the event names the Prefect flow run it was made by
    with opened_store(store_url) as store:
        return record_retention_run(store, run, started_at, {"flow_run_id": str(made_by)} if made_by else None)
