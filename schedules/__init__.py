"""Schedules (cron + time zone) used by prefect.yaml and by ``flows/serve.py``.

prefect.yaml cannot import Python, so it repeats these values; a test checks
that the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str
    description: str


#: 02:30 library time: after the ILS's own overnight jobs, before the doors open.
NIGHTLY_RETENTION = Schedule(cron="30 2 * * *", timezone="America/New_York",
                             description="nightly retention run, 02:30 America/New_York (library time)")

SCHEDULES = {"nightly-retention": NIGHTLY_RETENTION}
