"""nightly-retention: the library's unattended nightly run.

Ask the gateway (the adopted schedule authorizes the run), validate the ILS,
measure what is past retention, then act table by table
(aggregate then strip, delete, remove expired patrons), verify, validate the
result, publish and record; last, publish the audit log's tree head to the
Prefect artifact history (``audit-tree-head``), the external witness
``patronguard audit verify`` checks the log against. ``dry_run=True`` is
report mode: nothing is written to the ILS. Database URLs default to
``PATRONGUARD_ILS_URL`` / ``PATRONGUARD_STORE_URL`` in the worker's environment, or
Prefect Secret blocks named in ``databases``: never flow parameters (parameters
are shown in the UI and stored in Prefect's database).

One acting run at a time: from planning to recording, the flow body holds
the run lock of the store and the ILS (``patronguard.retention.runlock``;
waiting up to ``lock_wait`` seconds, then failing with a transient
``RunLockBusyError`` naming the holder). Why holding it in the flow body is
safe and enough: the flow runs its tasks in this process, one after the
other, so every apply task (and each of its retries) runs while the lock is
held and under the flow's one run id; the lock keeps every other run out, so
the only prepared batches a task's recovery can meet are a dead run's or a
failed attempt of this flow's own task, which has ended (Prefect retries a
task only after its attempt returned). A server that drops the lock's
connection drops the lock with it: before each table the flow takes it back
(``RunLock.ensure``), or stops if another run got it meanwhile.
"""
from __future__ import annotations

import datetime as dt
import uuid

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from prefect import flow  # noqa: E402

from patronguard.retention.runlock import DEFAULT_LOCK_WAIT, run_lock_for_urls  # noqa: E402
from patronguard.retention.context import DEFAULT_BATCH_SIZE  # noqa: E402

from flows.forms import Connections  # noqa: E402
from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.retention import (  # noqa: E402
    authorize_scheduled_run, inspect_ils_shape, load_retention_policy, measure_exposure, publish_exposure_artifact,
    read_legal_holds, record_report_run, resolve_run_date, save_report_files, validate_ils_source,
)
from tasks.retention_run import (  # noqa: E402
    apply_retention_to_table, count_rows_before, plan_retention, publish_run_artifact, record_run_and_audit,
    refuse_unmapped_patron_data, summarise_run, validate_ils_after, verify_after_run,
)


@flow(name="nightly-retention", persist_result=False, log_prints=False, validate_parameters=True)
def nightly_retention(policy_path: str = "", as_of: str = "", dry_run: bool = False,
                      batch_size: int = DEFAULT_BATCH_SIZE, report_dir: str = "",
                      lock_wait: float = DEFAULT_LOCK_WAIT, databases: Connections = Connections()):
    """Remove patron data past the policy's retention period; with ``dry_run``, only report it.

    Args:
        policy_path: The policy file on the worker; empty: PATRONGUARD_POLICY or the default policy.
        as_of: The run's day (YYYY-MM-DD); empty: today in the policy's time zone.
        dry_run: On: report mode, only measure and report (nothing is written to the ILS).
        batch_size: Rows per batch (each batch is one ILS transaction and one ledger entry).
        report_dir: Where the exposure report files are written on the worker; empty: var/reports.
        lock_wait: Seconds to wait for another run's lock before failing (the run is retried later).
        databases: Where the databases are: empty uses the worker's PATRONGUARD_ILS_URL and
            PATRONGUARD_STORE_URL; or name Prefect Secret blocks holding the URLs. Never a URL here.
    """
    ils_url, store_url = databases.ils_url(), databases.store_url()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    policy = load_retention_policy(policy_path or None)
    authorize_scheduled_run(policy)
    run_date = resolve_run_date(policy, as_of or None)
    shape = inspect_ils_shape(ils_url)
    if not dry_run:
        refuse_unmapped_patron_data(shape, policy)
    validation = validate_ils_source(ils_url, shape)
    legal_holds = read_legal_holds(store_url, ils_url)
    before = measure_exposure(ils_url, shape, policy, run_date, legal_holds, validation)
    publish_exposure_artifact(before)
    save_report_files(before, report_dir or None)
    if dry_run:
        record_report_run(store_url, before, started_at)
        publish_audit_tree_head(store_url)
        return before
    run_id = str(uuid.uuid4())
    with run_lock_for_urls(ils_url, store_url, run_id=run_id, what="nightly-retention flow", wait=lock_wait) as lock:
        run_id, plan = plan_retention(ils_url, store_url, policy, run_date, legal_holds, batch_size, run_id)
        counts = count_rows_before(ils_url, shape)
        applied = []
        expected = {t.table: t.actionable for t in before.tables}  # rows each table will change
        for table in plan.tables:
            lock.ensure()
            applied.append(apply_retention_to_table(table, ils_url, store_url, policy, run_date, legal_holds,
                                                    batch_size, run_id, expected.get(table, 0)))
        run = summarise_run(run_id, policy, before, applied, plan)
        run.verification = verify_after_run(ils_url, store_url, shape, policy, run_date, legal_holds)
        run.validation_after = validate_ils_after(ils_url, shape, counts, policy, run).to_dict()
        publish_run_artifact(run)
        record_run_and_audit(store_url, run, started_at)
    publish_audit_tree_head(store_url)
    return run
