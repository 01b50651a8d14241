"""Serve the flows without a work pool (needs a Prefect server, e.g. `prefect server start`).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve

Serves the same five deployments as prefect.yaml: ``nightly-retention`` on its
schedule (cron with the library's time zone, one run at a time) and
``director-purge``, ``disclosure-request``, ``share-export`` and ``anonymised-stats`` on demand. Database URLs come
from this process's environment (``PATRONGUARD_ILS_URL``,
``PATRONGUARD_STORE_URL``) or Secret blocks named in the run form, never from
parameters.
"""
from __future__ import annotations

from prefect import serve
from prefect.schedules import Cron

from flows.director_purge import director_purge
from flows.disclosure_request import disclosure_request
from flows.nightly_retention import nightly_retention
from flows.anonymised_stats import anonymised_stats
from flows.share_export import share_export
from schedules import NIGHTLY_RETENTION

#: How many runs of a deployment may run at once (prefect.yaml repeats it; a test checks).
CONCURRENCY = {"nightly-retention": 1}


def deployments() -> list:
    """The deployments ``serve`` serves (built, not yet registered)."""
    return [
        nightly_retention.to_deployment(
            name="nightly-retention", description=NIGHTLY_RETENTION.description,
            schedules=[Cron(NIGHTLY_RETENTION.cron, timezone=NIGHTLY_RETENTION.timezone)],
            concurrency_limit=CONCURRENCY["nightly-retention"],
        ),
        director_purge.to_deployment(
            name="director-purge",
            description="The Director's ad-hoc purge (run on demand, with a signed authorization)",
        ),
        disclosure_request.to_deployment(
            name="disclosure-request",
            description="Decide a stored disclosure request through the policy gateway (run on demand)",
        ),
        share_export.to_deployment(
            name="share-export",
            description="Release an export to a recipient through the share gate: gateway, leak scan (large "
                        "exports on Dask), release or quarantine (run on demand)",
        ),
        anonymised_stats.to_deployment(
            name="anonymised-stats",
            description="Anonymised statistics for staff: counts by period, branch, collection and patron group, "
                        "small cells suppressed, charted and scanned (run on demand; the form is the request)",
        ),
    ]


def main() -> None:
    serve(*deployments())


if __name__ == "__main__":
    main()
