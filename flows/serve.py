"""Serve the flows on their schedules without a work pool (needs `prefect server start`).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve
"""
from __future__ import annotations

from prefect import serve

from flows.nightly_retention import nightly_retention
from schedules import NIGHTLY_RETENTION


def main() -> None:
    serve(nightly_retention.to_deployment(
        name="nightly-retention", cron=NIGHTLY_RETENTION.cron, timezone=NIGHTLY_RETENTION.timezone,
        description=NIGHTLY_RETENTION.description,
    ))


if __name__ == "__main__":
    main()
