"""Tasks of the nightly retention flow (report mode)."""
from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.artifacts import create_markdown_artifact

from patronguard import settings
from patronguard.ils.piimap import builtin_pii_map
from patronguard.ils.shape import IlsShape
from patronguard.policy import LoadedPolicy, load_policy
from patronguard.retention.authorize import require_scheduled_run_allowed
from patronguard.retention import (
    ExposureReport, build_exposure_report, opened_ils, record_report, render_markdown, resolve_as_of,
    write_report_files,
)
from patronguard.store import opened_store
from patronguard.validate import ValidationSummary, require_valid, validate_ils

from .policy import DATABASE_IO, PATRON_DATA


@task(name="load-policy", **PATRON_DATA)
def load_retention_policy(policy_path: str | None) -> LoadedPolicy:
    return load_policy(settings.policy_path(policy_path))


@task(name="authorize-scheduled-run", **PATRON_DATA)
def authorize_scheduled_run(loaded: LoadedPolicy) -> dict:
    """The gateway's decision for tonight's run (the adopted schedule authorizes it); outcome and clauses only."""
    decision = require_scheduled_run_allowed(loaded)
    return {"outcome": decision.outcome, "clauses": decision.clauses, "reason": decision.reason}


@task(name="resolve-run-date", **PATRON_DATA)
def resolve_run_date(loaded: LoadedPolicy, as_of: str | None) -> dt.date:
    return resolve_as_of(as_of, loaded.policy.tz)


@task(name="inspect-ils", **PATRON_DATA, **DATABASE_IO)
def inspect_ils_shape(ils_url: str | None) -> IlsShape:
    with opened_ils(ils_url) as (_, shape):
        return shape


@task(name="validate-ils-source", **PATRON_DATA, **DATABASE_IO)
def validate_ils_source(ils_url: str | None, shape: IlsShape) -> ValidationSummary:
    with opened_ils(ils_url, scan_unmapped=False) as (engine, _):
        return require_valid(validate_ils(engine, shape))


@task(name="read-legal-holds", **PATRON_DATA, **DATABASE_IO)
def read_legal_holds(store_url: str | None, ils_url: str | None = None) -> frozenset[int]:
    """The legal holds in force — the first time the flow opens the store, so the store must first be
    shown not to be the ILS's database (the run's plan checks it again)."""
    from patronguard.retention.preflight import require_separate_store

    require_separate_store(ils_url, store_url)
    with opened_store(store_url) as store:
        return frozenset(store.active_legal_holds())


@task(name="measure-exposure", **PATRON_DATA, **DATABASE_IO)
def measure_exposure(ils_url: str | None, shape: IlsShape, loaded: LoadedPolicy, as_of: dt.date,
                     legal_holds: frozenset[int], validation: ValidationSummary) -> ExposureReport:
    with opened_ils(ils_url, scan_unmapped=False) as (engine, _):
        report = build_exposure_report(engine, shape, builtin_pii_map("koha"), loaded, as_of, legal_holds)
    report.validation = validation.to_dict()
    return report


@task(name="publish-exposure-artifact", **PATRON_DATA)
def publish_exposure_artifact(report: ExposureReport) -> str:
    create_markdown_artifact(
        key="privacy-exposure", markdown=render_markdown(report),
        description=f"Patron data past retention as of {report.as_of.isoformat()} ({report.policy_library})",
    )
    return "privacy-exposure"


@task(name="write-report-files", **PATRON_DATA)
def save_report_files(report: ExposureReport, report_dir: str | None) -> list[str]:
    return [str(p) for p in write_report_files(report, report_dir or settings.var_dir() / "reports")]


@task(name="record-run", **PATRON_DATA, **DATABASE_IO)
def record_report_run(store_url: str | None, report: ExposureReport, started_at: dt.datetime) -> str:
    with opened_store(store_url) as store:
        return record_report(store, report, started_at)
