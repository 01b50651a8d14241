"""Tasks of the anonymised-stats flow: thin wrappers over :mod:`patronguard.stats.service`.

The counts hold no patron (and every released cell at least k distinct patrons), but they are read from tables
that do, so these tasks keep nothing: no persisted results, no cache (``PATRON_DATA``).
"""
from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact

from patronguard.stats import service

from .policy import DATABASE_IO, PATRON_DATA


@task(name="decide-stats-request", **PATRON_DATA)
def decide_stats_request(request, policy_path: str | None):
    return service.decide_stats(request, policy_path)


@task(name="count-and-suppress", **PATRON_DATA, **DATABASE_IO)
def count_and_suppress(request, k: int, ils_url: str | None, store_url: str | None, generalise: tuple = ()):
    """(request as answered, disclosure-controlled counts, generalisation steps taken); ``generalise``: what may
    be widened instead of suppressed (``age_band``, ``period``), in order."""
    if generalise:
        return service.count_generalising(request, k, ils_url=ils_url, store_url=store_url, widen=tuple(generalise))
    return request, service.count_and_suppress(request, k, ils_url=ils_url, store_url=store_url), []


@task(name="write-release", **PATRON_DATA)
def write_release(controlled, request, decided, out_dir: str):
    return service.write_release(controlled, request, decided, Path(out_dir))


@task(name="scan-release", **PATRON_DATA, **DATABASE_IO)
def scan_release(paths: list, ils_url: str | None) -> dict:
    return service.scan_release(list(paths), ils_url=ils_url)


@task(name="record-stats-release", **PATRON_DATA, **DATABASE_IO)
def record_stats_release(store_url: str | None, request, decided, controlled, scan: dict | None, actor: str,
                         flow_run_id: str | None) -> None:
    service.record_stats(store_url, request, decided, controlled, scan=scan, actor=actor, flow_run_id=flow_run_id)


@task(name="publish-stats-artifact", **PATRON_DATA)
def publish_stats_artifact(release, paths: list) -> str:
    from patronguard.stats.render import markdown_summary

    files = "\n".join(f"- `{p}`" for p in paths)
    create_markdown_artifact(key="anonymised-stats", markdown=markdown_summary(release) + f"\n\nFiles:\n{files}\n",
                             description="Anonymised statistics as released (suppressed cells marked x)")
    return "anonymised-stats"
