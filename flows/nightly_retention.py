"""nightly-retention: the library's unattended nightly run.

Report mode (for now): check the policy and the ILS, validate the source,
measure patron data past retention, publish the report. Nothing is written
to the ILS. Database URLs default to ``PATRONGUARD_ILS_URL`` /
``PATRONGUARD_STORE_URL``: put credentials there, not in flow parameters
(parameters are stored in Prefect's database).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from prefect import flow  # noqa: E402

from tasks.retention import (  # noqa: E402
    inspect_ils_shape, load_retention_policy, measure_exposure, publish_exposure_artifact,
    read_legal_holds, record_report_run, resolve_run_date, save_report_files, validate_ils_source,
)


@flow(name="nightly-retention", persist_result=False, log_prints=False)
def nightly_retention(policy_path: str | None = None, as_of: str | None = None,
                      mode: Literal["report"] = "report", ils_url: str | None = None,
                      store_url: str | None = None, report_dir: str | None = None):
    """Report every piece of patron data held past the policy's retention period."""
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    policy = load_retention_policy(policy_path)
    run_date = resolve_run_date(policy, as_of)
    shape = inspect_ils_shape(ils_url)
    validation = validate_ils_source(ils_url, shape)
    legal_holds = read_legal_holds(store_url)
    report = measure_exposure(ils_url, shape, policy, run_date, legal_holds, validation)
    publish_exposure_artifact(report)
    save_report_files(report, report_dir)
    record_report_run(store_url, report, started_at)
    return report
