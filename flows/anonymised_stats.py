"""anonymised-stats: the statistics staff ask for, without ever seeing who borrowed what.

The run form is the request form: dimensions and measures are choices, dates are dates, filters are
``DIM=VALUE`` codes. Tasks, in order: ``decide-stats-request`` (identifier or title-level requests for small
groups refused; the gateway decides ``anonymised_statistics``), ``count-and-suppress`` (warehouse + live ILS,
counted in the databases, merged without double counting; every released cell at least k distinct patrons,
complementary suppression so no hidden cell can be worked out from the totals), ``write-release`` (CSV with
suppressed cells marked, PNG chart, one-page HTML), ``scan-release`` (the leak scanner with the ILS's patrons:
a blocked release is removed), ``record-stats-release`` (audit: names and counts only), then the Markdown
artifact and the audit tree head. Parameters carry no patron value and no database URL.
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

import datetime as dt  # noqa: E402
from typing import Annotated, Literal  # noqa: E402

from prefect import flow  # noqa: E402
from pydantic import Field  # noqa: E402

from flows.forms import Connections, flow_run_id  # noqa: E402
from patronguard.stats.request import Dimension, Measure, parse_stats_request  # noqa: E402
from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.stats import (  # noqa: E402
    count_and_suppress, decide_stats_request, publish_stats_artifact, record_stats_release, scan_release,
    write_release,
)

FILTER = r"^[a-z_]{3,20}=[A-Za-z0-9][A-Za-z0-9_.+?-]{0,79}$"


@flow(name="anonymised-stats", persist_result=False, log_prints=False, validate_parameters=True)
def anonymised_stats(
    by: Annotated[list[Dimension], Field(min_length=1, max_length=4, title="Break down by",
                                         description="One period at most (day, week, month, quarter, year) "
                                                     "and any of branch, item type, collection, location, "
                                                     "patron category, age band.")],
    requester: Annotated[str, Field(min_length=1, max_length=120, title="Your staff id",
                                    description="Who asks; the gateway decides and the audit log records it.")],
    measures: Annotated[list[Measure], Field(min_length=1, max_length=8, title="Measures",
                                             description="Counts to release.")] = ["checkouts"],  # noqa: B006
    from_day: Annotated[dt.date | None, Field(title="From (first day, included)")] = None,
    to_day: Annotated[dt.date | None, Field(title="To (last day, included)",
                                            description="A day before today. Empty: the end of the last "
                                                        "complete month.")] = None,
    where: Annotated[list[Annotated[str, Field(pattern=FILTER)]],
                     Field(max_length=6, title="Only where (DIM=VALUE)",
                           description="e.g. branch=MAIN or patron_category=JUV")] = [],  # noqa: B006
    min_count: Annotated[int | None, Field(ge=1, le=1000, title="Minimum distinct patrons per cell (k)",
                                           description="Empty: the policy's floor (10); never lower.")] = None,
    wide_age_bands: Annotated[bool, Field(title="Wide age bands (0-17, 18-64, 65+)")] = False,
    generalise: Annotated[list[Literal["age_band", "period"]],
                          Field(max_length=2, title="Where cells fall below k, widen instead of suppressing",
                                description="age_band: narrow → wide bands; period: month → quarter → year. "
                                            "In the order chosen.")] = [],  # noqa: B006
    out_dir: Annotated[str, Field(max_length=1000, title="Folder for the files on the worker",
                                  description="Empty: VAR/stats/RUN-ID.")] = "",
    policy_path: str = "",
    databases: Connections = Connections(),
) -> dict:
    """Anonymised statistics, disclosure-controlled, charted, scanned and recorded.

    Args:
        by: Break the counts down by these (at most one period: day, week, month, quarter or year; and any of
            branch, item type, collection, location, patron category, age band). Never by patron or title.
        requester: Your staff id. The gateway decides; the audit log records it with this flow run's id.
        measures: The counts to release: checkouts, renewals, returns, distinct patrons, holds placed, holds
            filled, removed patrons (by year, branch, patron category and age band only), new registrations (by
            period, branch, patron category and age band at enrolment).
        from_day: The first day counted (included). Empty: since the first loan.
        to_day: The last day counted (included), a day before today. Empty: up to the end of the last complete
            month (a table covers closed days only).
        where: Only count rows with these values, DIM=VALUE (e.g. branch=MAIN, patron_category=JUV).
        min_count: k, the distinct patrons every released cell needs. Empty: the policy's floor (10); a request
            may raise it, never lower it.
        wide_age_bands: Count age bands as 0-17, 18-64 and 65+ instead of the narrow bands.
        generalise: Where cells fall below k, widen instead of suppressing them, in the order chosen: age_band
            (narrow → wide bands), period (the next coarser period: month → quarter → year).
        out_dir: The folder on the worker for stats.csv, stats.png and summary.html. Empty: VAR/stats/RUN-ID.
        policy_path: The policy file on the worker; empty: PATRONGUARD_POLICY or the default policy.
        databases: Where the ILS and the store are (the worker's environment or named Secret blocks).
    """
    from patronguard.settings import var_dir

    raw = {"by": list(by), "measures": list(measures), "where": list(where), "requester": requester.strip(),
           "min_count": min_count, "wide_age_bands": wide_age_bands}
    raw |= {k: v for k, v in (("from", from_day), ("to", to_day)) if v is not None}
    request = parse_stats_request(**raw)
    ils_url, store_url = databases.ils_url(), databases.store_url()
    run_id = flow_run_id()
    decided = decide_stats_request(request, policy_path or None)
    request = decided.request  # its period pinned to closed days
    if not decided.decision.allowed:
        record_stats_release(store_url, request, decided, None, None, requester, run_id)
        publish_audit_tree_head(store_url)
        return {"outcome": decided.decision.outcome, "reason": decided.decision.reason}
    request, controlled, generalised = count_and_suppress(request, decided.k, ils_url, store_url, tuple(generalise))
    folder = out_dir or str(var_dir() / "stats" / (run_id or "local"))
    release, paths = write_release(controlled, request, decided, folder)
    scan = scan_release(paths, ils_url)
    record_stats_release(store_url, request, decided, controlled, scan, requester, run_id)
    publish_stats_artifact(release, paths)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return {"outcome": decided.decision.outcome, "k": decided.k, "files": [str(p) for p in paths],
            "suppressed": release.suppressed, "generalised": generalised, "scan": scan}
