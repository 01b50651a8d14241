"""Verify after acting: nothing past retention still identifies a patron without an
exemption, no batch is left half-done, and the warehouse holds exactly what
the ledger says was stripped."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import TerminalError
from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..policy import LoadedPolicy
from ..store import Store
from .batchaudit import unaudited_batches
from .exposure import ExposureReport, build_exposure_report
from .ledger import Ledger


class VerificationFailedError(TerminalError):
    """Verification found patron data past retention or a warehouse/ledger mismatch."""

    exit_code = 1


@dataclass
class Discrepancy:
    table: str
    problem: str


@dataclass
class Verification:
    as_of: dt.date
    ok: bool
    discrepancies: list[Discrepancy] = field(default_factory=list)
    warehouse_events: dict[str, int] = field(default_factory=dict)
    ledger_aggregated: dict[str, int] = field(default_factory=dict)
    pending_batches: int = 0
    unaudited_batches: int = 0
    exposure: ExposureReport | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data.pop("exposure")
        return data

    def failure_line(self) -> str:
        first = self.discrepancies[0]
        more = f" (and {len(self.discrepancies) - 1} more)" if len(self.discrepancies) > 1 else ""
        return f"verification failed: {first.table}: {first.problem}{more}"


def warehouse_events(store: Store) -> dict[str, int]:
    circ = store["stats_circulation"]
    with store.engine.connect() as conn:
        return {source: int(n) for source, n in
                conn.execute(sa.select(circ.c.source, sa.func.sum(circ.c.events)).group_by(circ.c.source))}


def verify_retention(engine: Engine, shape: IlsShape, pii_map: PiiMap, loaded: LoadedPolicy, as_of: dt.date,
                     store: Store, legal_holds: frozenset[int], *, audited: bool = False) -> Verification:
    """With ``audited`` (``retention verify`` — not a run, whose own batches its final event lists), also that
    every finished batch of the ledger is listed by an audit event (:mod:`.batchaudit`)."""
    exposure = build_exposure_report(engine, shape, pii_map, loaded, as_of, legal_holds)
    ledger = Ledger(store)
    result = Verification(as_of=as_of, ok=True, exposure=exposure, warehouse_events=warehouse_events(store),
                          ledger_aggregated=ledger.done_totals("aggregated"), pending_batches=len(ledger.pending()))
    for t in exposure.tables:
        if t.actionable:
            result.discrepancies.append(Discrepancy(
                t.table, f"{t.actionable:,} rows past retention (before {t.cutoff.isoformat()}) still identify "
                         "a patron without an exemption"))
    if result.pending_batches:
        result.discrepancies.append(Discrepancy(
            "retention_batches", f"{result.pending_batches} batches prepared but never completed "
                                 "(a run was killed); run `patronguard retention run` to recover them"))
    if audited:
        with store.engine.connect() as conn:
            missing = unaudited_batches(conn, store, besides_run=None)
        result.unaudited_batches = len(missing)
        if missing:
            runs = len({b.run_id for b in missing})
            result.discrepancies.append(Discrepancy(
                "audit_events", f"{len(missing)} finished batches of {runs} run(s) appear in no audit event "
                                "(a run was killed before recording); run `patronguard retention run` to audit them"))
    for source in sorted(set(result.warehouse_events) | set(result.ledger_aggregated)):
        events, aggregated = result.warehouse_events.get(source, 0), result.ledger_aggregated.get(source, 0)
        if events != aggregated:
            result.discrepancies.append(Discrepancy(
                source, f"the warehouse holds {events:,} {source} rows but the ledger aggregated and "
                        f"stripped {aggregated:,}"))
    result.ok = not result.discrepancies
    return result


def require_verified(result: Verification) -> Verification:
    if not result.ok:
        raise VerificationFailedError(result.failure_line())
    return result
