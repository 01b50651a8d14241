"""The privacy-exposure report: what still identifies a patron past retention.

Per table of the PII map (and per Westchester §1 category): rows that
identify a patron, how many of them are past the policy's retention period,
how many of those are exempt and why, how many are actionable, and the
oldest such date. Read-only: nothing is written to the ILS.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import masked
from ..ils.piimap import CATEGORY_NAMES, PiiMap, TableMap
from ..ils.shape import IlsShape
from ..policy import LoadedPolicy
from .asof import cutoff_for
from .scope import RowScope, row_scope

NOT_EXEMPT = "none"


@dataclass
class TableExposure:
    table: str
    category: str
    records: str
    action: str
    keep_days: int
    cutoff: dt.date
    clauses: list[str]
    identified: int = 0
    past_retention: int = 0
    exempt: dict[str, int] = field(default_factory=dict)
    actionable: int = 0
    oldest: dt.date | None = None             # oldest age date among rows past retention
    oldest_actionable: dt.date | None = None  # … among those not exempt


@dataclass
class CategoryExposure:
    category: str
    name: str
    identified: int = 0
    past_retention: int = 0
    exempt: int = 0
    actionable: int = 0
    oldest: dt.date | None = None


@dataclass
class ExposureReport:
    as_of: dt.date
    generated_at: dt.datetime
    ils: str
    dialect: str
    anonymous_patron: int | None
    policy_library: str
    policy_version: str
    policy_sha256: str
    policy_path: str
    tables: list[TableExposure]
    categories: list[CategoryExposure]
    notes: list[str]
    validation: dict | None = None

    @property
    def actionable(self) -> int:
        return sum(t.actionable for t in self.tables)

    @property
    def past_retention(self) -> int:
        return sum(t.past_retention for t in self.tables)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["totals"] = {
            "identified": sum(t.identified for t in self.tables),
            "past_retention": self.past_retention,
            "exempt": sum(sum(t.exempt.values()) for t in self.tables),
            "actionable": self.actionable,
        }
        return _jsonable(data)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def identifying_rows_query(scope: RowScope, cutoff: dt.date) -> sa.Select:
    """SELECT reason, past, age for every row of the scope's table that identifies a patron."""
    whens = [(pred, sa.literal_column(f"'{kind}'")) for kind, pred in scope.exemptions]
    none = sa.literal_column(f"'{NOT_EXEMPT}'")
    reason = sa.case(*whens, else_=none) if whens else none
    past = sa.case((scope.past(cutoff), 1), else_=0)
    return (
        sa.select(reason.label("reason"), past.label("past"), scope.age.label("age"))
        .select_from(scope.source)
        .where(*scope.identifying)
    )


def measure_table(engine: Engine, name: str, table_map: TableMap, shape: IlsShape, pii_map: PiiMap,
                  loaded: LoadedPolicy, as_of: dt.date, legal_holds: frozenset[int],
                  notes: list[str]) -> TableExposure:
    policy = loaded.policy
    rule = policy.rule_for(table_map.records)
    cutoff = cutoff_for(as_of, rule.keep_days)
    out = TableExposure(
        table=name, category=table_map.category, records=table_map.records, action=rule.action,
        keep_days=rule.keep_days, cutoff=cutoff, clauses=policy.cite(rule.clauses),
    )
    scope = row_scope(name, shape, pii_map, legal_holds, notes, as_of)
    inner = identifying_rows_query(scope, cutoff).subquery("r")
    query = (
        sa.select(inner.c.reason, inner.c.past, sa.func.count().label("n"), sa.func.min(inner.c.age).label("oldest"))
        .group_by(inner.c.reason, inner.c.past)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    oldest: list[dt.date] = []
    oldest_actionable: list[dt.date] = []
    for reason, past, n, first in rows:
        out.identified += n
        if not past:
            continue
        out.past_retention += n
        if first is not None:
            oldest.append(_as_date(first))
        if reason == NOT_EXEMPT:
            out.actionable += n
            if first is not None:
                oldest_actionable.append(_as_date(first))
        else:
            out.exempt[reason] = out.exempt.get(reason, 0) + n
    out.exempt = dict(sorted(out.exempt.items()))
    out.oldest = min(oldest, default=None)
    out.oldest_actionable = min(oldest_actionable, default=None)
    return out


def summarise_categories(tables: list[TableExposure]) -> list[CategoryExposure]:
    out = {c: CategoryExposure(category=c, name=n) for c, n in CATEGORY_NAMES.items()}
    for t in tables:
        c = out[t.category]
        c.identified += t.identified
        c.past_retention += t.past_retention
        c.exempt += sum(t.exempt.values())
        c.actionable += t.actionable
        if t.oldest and (c.oldest is None or t.oldest < c.oldest):
            c.oldest = t.oldest
    return list(out.values())


def build_exposure_report(engine: Engine, shape: IlsShape, pii_map: PiiMap, loaded: LoadedPolicy,
                          as_of: dt.date, legal_holds: frozenset[int] = frozenset()) -> ExposureReport:
    """Measure every scheduled table present in the ILS. Read-only."""
    notes = list(shape.notes)
    tables = [
        measure_table(engine, name, table_map, shape, pii_map, loaded, as_of, legal_holds, notes)
        for name, table_map in pii_map.scheduled_tables().items()
        if name in shape.tables
    ]
    return ExposureReport(
        as_of=as_of,
        generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        ils=masked(engine.url), dialect=shape.dialect, anonymous_patron=shape.anonymous_patron,
        policy_library=loaded.library, policy_version=loaded.version, policy_sha256=loaded.sha256,
        policy_path=loaded.path, tables=tables, categories=summarise_categories(tables),
        notes=list(dict.fromkeys(notes)),
    )
