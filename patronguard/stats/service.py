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
    request: object = None    # the request with its period pinned to closed days (stats.period)


def decide_stats(request, policy_path: str | None, today: dt.date | None = None) -> StatsDecision:
    """Refuse identifier or title-level requests for small groups and measures not answered, pin the period to
    closed days in the library's time zone (:mod:`patronguard.stats.period`), work out k (a request may raise
    it, never lower it below the policy floor), and ask the gateway (``anonymised_statistics`` by a member of
    staff). Use the returned decision's ``request`` from then on."""
    from .. import settings
    from ..gateway import AccessRequest, decide
    from ..policy import load_policy
    from .period import closed_period
    from .query import check_answerable
    from .refuse import refuse_disclosive_request
    from .rules import minimum_patrons

    refuse_disclosive_request(request.by, list(request.where))
    loaded = load_policy(settings.policy_path(policy_path))
    tz = loaded.policy.tz
    request = closed_period(request, today or dt.datetime.now(tz).date(), tz.key)
    check_answerable(request)
    k = minimum_patrons(request.min_count, policy_floor=loaded.policy.min_patrons_per_cell)
    access = AccessRequest(action="anonymised_statistics", requester={"role": "staff", "id": request.requester},
                           channel="in_person", fields=["aggregate_counts"])
    return StatsDecision(loaded, decide(access, loaded), k, request)


def count_and_suppress(request, k: int, *, ils_url: str | None, store_url: str | None):
    """The counts (pushed down to SQL, warehouse and live merged) with small cells suppressed — keeping, and
    protecting against, whatever this table released before, and hiding what the release of the same question
    for a nested period would give away by difference (:mod:`patronguard.stats.overlap`)."""
    from ..ils.piimap import builtin_pii_map
    from ..retention.engine import checked_hash_key
    from ..retention.report import opened_ils
    from ..store import opened_store
    from .overlap import check_difference_protected, forced_keys
    from .query import check_where_values, disclosure_controlled
    from .releases import earlier_releases, nested_releases, table_identity

    pii_map = builtin_pii_map("koha")
    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        check_where_values(engine, shape, store, request)
        hash_key = checked_hash_key(store)
        counts = counted(engine, shape, pii_map, store, request, hash_key)
        earlier = earlier_releases(store, table_identity(request))
        additive = [m for m in request.measures if m != "distinct_patrons"]  # no total of distinct patrons is released
        nested = nested_releases(store, request) if request.to_day is not None and additive else []

        def count_period(first, last):
            part = request.model_copy(update={"from_day": first, "to_day": last, "measures": additive})
            try:
                return counted(engine, shape, pii_map, store, part, hash_key)
            except InputError as error:
                raise InputError(f"checking against this table's release for another period: {error}") from None

        bounds = forced_keys(request, nested, k, count_period, additive) if nested else {}
    controlled = disclosure_controlled(counts, k, earlier, must_hide={m: set(b) for m, b in bounds.items()})
    for measure, measure_bounds in bounds.items():
        if measure in controlled.results:
            check_difference_protected(controlled.results[measure], measure_bounds, measure)
    return controlled


#: measures counting one patron per row (a registration, a removal): their cells' patrons add up
ONE_PATRON_PER_ROW = frozenset({"removed_patrons", "new_registrations"})


def counted(engine, shape, pii_map, store, request, hash_key):
    """:func:`patronguard.stats.query.count_statistics`, with age bands widened when the request asks: counts
    added, distinct patrons of a merged cell the largest of its parts (a lower bound — the sketches are kept per
    narrow band — so suppression errs on the side of hiding), except where each row is its own patron."""
    from .generalisation import widen_age_band_cells
    from .query import StatsCounts, count_statistics

    counts = count_statistics(engine, shape, pii_map, store, request, hash_key)
    if not request.wide_age_bands or "age_band" not in counts.dimensions:
        return counts
    axis = counts.dimensions.index("age_band")
    values = {m: widen_age_band_cells(cells, axis, add=m != "distinct_patrons") for m, cells in counts.values.items()}
    patrons = {m: widen_age_band_cells(cells, axis, add=m in ONE_PATRON_PER_ROW) for m, cells in counts.patrons.items()}
    return StatsCounts(counts.dimensions, values, patrons, patrons_exact=False)


#: the next coarser period, for generalising instead of suppressing
COARSER = {"day": "week", "week": "month", "month": "quarter", "quarter": "year"}


#: what ``--generalise`` may widen, in the order tried when both are asked
GENERALISABLE = ("age_band", "period")


def generalised(request, what: str = "period"):
    """The same request one step wider — the period one coarser (month → quarter …), or narrow → wide age bands
    — or None when there is nothing wider (or the dimension is also a filter: widening it would count others)."""
    if what == "age_band":
        if "age_band" in request.by and "age_band" not in request.where and not request.wide_age_bands:
            return request.model_copy(update={"wide_age_bands": True})
        return None
    for i, dim in enumerate(request.by):
        if dim in COARSER and dim not in request.where:
            by = list(request.by)
            by[i] = COARSER[dim]
            return request.model_copy(update={"by": by})
    return None


def _step_text(before, after) -> str:
    if after.wide_age_bands != before.wide_age_bands:
        return "age bands narrow → wide (0-17, 18-64, 65+)"
    return (f"{'/'.join(d for d in before.by if d in COARSER or d == 'year')} → "
            f"{'/'.join(d for d in after.by if d in COARSER or d == 'year')}")


def count_generalising(request, k: int, *, ils_url: str | None, store_url: str | None,
                       widen: tuple[str, ...] = GENERALISABLE):
    """Count and suppress; while cells fall below k, widen instead (``widen``, in order: ``age_band`` narrow →
    wide bands, ``period`` the next coarser period, as often as it helps), recounting each time. Returns
    (request as answered, result, steps taken)."""
    unknown = [w for w in widen if w not in GENERALISABLE]
    if unknown:
        raise InputError(f"--generalise: {unknown[0][:40]!r} cannot be generalised; expected {', '.join(GENERALISABLE)}")
    steps: list[str] = []
    controlled = count_and_suppress(request, k, ils_url=ils_url, store_url=store_url)
    for what in widen:
        while any(r.primary for r in controlled.results.values()) or controlled.hidden_patrons:
            wider = generalised(request, what)
            if wider is None:
                break
            steps.append(_step_text(request, wider))
            request = wider
            controlled = count_and_suppress(request, k, ils_url=ils_url, store_url=store_url)
    return request, controlled, steps


def period_of(request) -> str:
    from .period import period_text

    return period_text(request)


def write_release(controlled, request, decided: StatsDecision, out_dir: Path):
    """stats.csv, stats.png and summary.html into ``out_dir``; returns (release, paths)."""
    from .render import release_from, write_outputs

    title = f"{', '.join(request.measures)} by {', '.join(request.by)}".replace("_", " ").capitalize()
    if request.wide_age_bands and "age_band" in request.by:
        title += " (wide age bands: 0-17, 18-64, 65+)"
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
            remember_release(store, identity, controlled, request)  # later releases keep these figures
        record_event(store, "anonymised-statistics", payload)
