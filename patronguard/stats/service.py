"""Anonymised statistics end to end, for the CLI and the ``anonymised-stats`` flow alike: the gateway decides,
the counts are made (warehouse + live ILS, in the databases), small cells are suppressed, the files are written,
scanned by the leak scanner with the ILS's patrons before release, and the request, decision and release go to
the audit log (names and counts only).

Each step is its own function so the flow can run them as named tasks in order.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class StatsDecision:
    loaded: object            # LoadedPolicy
    decision: object          # gateway Decision
    k: int


def decide_stats(request, policy_path: str | None) -> StatsDecision:
    """Refuse identifier or title-level requests for small groups and measures not answered, work out k (a
    request may raise it, never lower it below the policy floor), and ask the gateway (``anonymised_statistics``
    by a member of staff)."""
    from .. import settings
    from ..gateway import AccessRequest, decide
    from ..policy import load_policy
    from .query import check_answerable
    from .refuse import refuse_disclosive_request
    from .rules import minimum_patrons

    refuse_disclosive_request(request.by, list(request.where))
    check_answerable(request)
    loaded = load_policy(settings.policy_path(policy_path))
    k = minimum_patrons(request.min_count, policy_floor=loaded.policy.min_patrons_per_cell)
    access = AccessRequest(action="anonymised_statistics", requester={"role": "staff", "id": request.requester},
                           channel="in_person", fields=["aggregate_counts"])
    return StatsDecision(loaded, decide(access, loaded), k)


def count_and_suppress(request, k: int, *, ils_url: str | None, store_url: str | None):
    """The counts (pushed down to SQL, warehouse and live merged) with small cells suppressed — keeping, and
    protecting against, whatever this table released before."""
    from ..ils.piimap import builtin_pii_map
    from ..retention.engine import checked_hash_key
    from ..retention.report import opened_ils
    from ..store import opened_store
    from .query import check_where_values, count_statistics, disclosure_controlled
    from .releases import earlier_releases, table_identity

    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        check_where_values(engine, shape, store, request)
        counts = count_statistics(engine, shape, builtin_pii_map("koha"), store, request, checked_hash_key(store))
        earlier = earlier_releases(store, table_identity(request))
    return disclosure_controlled(counts, k, earlier)


#: the next coarser period, for generalising instead of suppressing
COARSER = {"day": "week", "week": "month", "month": "quarter", "quarter": "year"}


def generalised(request):
    """The same request one period coarser (month → quarter …), or None when there is none coarser (or the
    period is also a filter: widening it would count other periods)."""
    for i, dim in enumerate(request.by):
        if dim in COARSER and dim not in request.where:
            by = list(request.by)
            by[i] = COARSER[dim]
            return request.model_copy(update={"by": by})
    return None


def count_generalising(request, k: int, *, ils_url: str | None, store_url: str | None):
    """Count and suppress; while cells fall below k, try the next coarser period instead (recounted, so every
    cell's distinct patrons are exact at the new grain). Returns (request as answered, result, steps taken)."""
    steps: list[str] = []
    controlled = count_and_suppress(request, k, ils_url=ils_url, store_url=store_url)
    while any(r.primary for r in controlled.results.values()) or controlled.hidden_patrons:
        coarser = generalised(request)
        if coarser is None:
            break
        steps.append(f"{'/'.join(d for d in request.by if d in COARSER or d == 'year')} → "
                     f"{'/'.join(d for d in coarser.by if d in COARSER or d == 'year')}")
        request = coarser
        controlled = count_and_suppress(request, k, ils_url=ils_url, store_url=store_url)
    return request, controlled, steps


def period_of(request) -> str:
    first = request.from_day.isoformat() if request.from_day else "the first loan"
    last = request.to_day.isoformat() if request.to_day else dt.date.today().isoformat()
    return f"{first} to {last}"


def write_release(controlled, request, decided: StatsDecision, out_dir: Path):
    """stats.csv, stats.png and summary.html into ``out_dir``; returns (release, paths)."""
    from .render import release_from, write_outputs

    title = f"{', '.join(request.measures)} by {', '.join(request.by)}".replace("_", " ").capitalize()
    release = release_from(controlled, title=title, decision=decided.decision, period=period_of(request))
    return release, write_outputs(release, out_dir)


def scan_release(paths: list[Path], *, ils_url: str | None) -> dict:
    """The leak scan every file leaving the library passes (the ILS's patrons known): counts per entity only.
    A blocked release is removed and refused with one line."""
    from ..scan import ScanSettings, load_known_patrons_ils
    from ..scan.run import run_scan
    from .. import settings as pg_settings

    scannable = [p for p in paths if p.suffix == ".csv"]
    known = load_known_patrons_ils(pg_settings.ils_url(ils_url), option="--db")
    report = run_scan(scannable, ScanSettings(), known)
    entities: dict[str, int] = {}
    for verdict in report.verdicts():
        for entity, n in verdict.entities.items():
            entities[entity] = entities.get(entity, 0) + n
    summary = {"files": [p.name for p in scannable], "cells": sum(f["cells"] for f in report.files.values()),
               "findings": report.findings, "entities": dict(sorted(entities.items()))}
    if report.blocked:
        folder = paths[0].parent
        for path in paths:
            path.unlink(missing_ok=True)
        raise InputError(f"{folder}: the statistics files hold patron data (the leak scan blocked them); "
                         "nothing was released — check the dimensions and filters asked for")
    return summary


def record_stats(store_url: str | None, request, decided: StatsDecision, controlled, *, scan: dict | None = None,
                 actor: str | None = None, flow_run_id: str | None = None) -> None:
    """The request, the decision and what was released: names and counts only, no cell value."""
    from ..audit import record_event
    from ..store import opened_store

    payload = {
        "requester": request.requester, "by": list(request.by), "measures": list(request.measures),
        "where": dict(request.where), "from": str(request.from_day or ""), "to": str(request.to_day or ""),
        "decision": decided.decision.outcome, "clauses": list(decided.decision.clauses),
        "released": controlled.summary() if controlled is not None else None, "scan": scan,
    }
    payload |= {k: v for k, v in (("actor", actor), ("flow_run_id", flow_run_id)) if v is not None}
    from .releases import remember_release, table_identity

    identity = table_identity(request)
    payload["table_sha256"] = identity
    with opened_store(store_url) as store:
        if controlled is not None:
            remember_release(store, identity, controlled)     # later releases of this table keep these figures
        record_event(store, "anonymised-statistics", payload)
