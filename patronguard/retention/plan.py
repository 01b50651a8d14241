"""Plan the whole run, then write: every statement built and tried before the first change.

``plan_run`` works out, against the columns this database actually has, what
each table's step will do (action, cutoff, which of a release line's
alternative columns it reads) and then *rehearses* every step: each batch
processor runs once with an empty selection inside a transaction that is
rolled back. So every SELECT, UPDATE and DELETE the run will issue is built
and executed by the database itself (unknown columns, types, permissions)
before a single row changes; a schema surprise stops the run with one line
naming the table, and nothing is half-done.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import PatronguardError, RunPlanError, UnmappedPatronDataError
from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..policy import LoadedPolicy
from .asof import cutoff_for
from .batches import strip_rows
from .children import delete_children
from .context import RunContext
from .ledger import Deltas
from .patrons import count_removed_patrons, release_patron_rows


@dataclass
class PlannedStep:
    table: str
    records: str
    action: str
    keep_days: int
    cutoff: dt.date


@dataclass
class RetentionPlan:
    release: str
    steps: list[PlannedStep]
    choices: list[str] = field(default_factory=list)        # how this release's columns are read
    out_of_scope: list[dict] = field(default_factory=list)  # patron data the policy leaves alone, with why

    @property
    def tables(self) -> list[str]:
        return [s.table for s in self.steps]

    def to_dict(self) -> dict:
        return {"release": self.release, "steps": [asdict(s) | {"cutoff": s.cutoff.isoformat()} for s in self.steps],
                "choices": list(self.choices), "out_of_scope": list(self.out_of_scope)}

    def lines(self) -> list[str]:
        out = [f"plan: {self.release}; {len(self.steps)} steps"]
        out += [f"plan: {c}" for c in self.choices]
        out += [f"plan: out of scope by policy: {o['what']} — {o['reason']}" for o in self.out_of_scope]
        return out


def out_of_scope_findings(shape: IlsShape, loaded: LoadedPolicy) -> list[dict]:
    """The unmapped patron data the policy declares out of scope (reported and audited every run).
    Raises UnmappedPatronDataError for any that it does not."""
    entries = loaded.policy.retention.out_of_scope
    uncovered = [u for u in shape.unmapped if not any(e.covers(u.table, u.column) for e in entries)]
    if uncovered:
        first = uncovered[0]
        more = f" (and {len(uncovered) - 1} more; `patronguard ils check` lists them)" if len(uncovered) > 1 else ""
        raise UnmappedPatronDataError(
            f"refusing to run: {first.table}.{first.column} looks like patron data ({first.why}) but no PII map "
            f"covers it{more}; map it, or list it under retention.out_of_scope in the policy with a reason")
    found = []
    for entry in entries:
        covered = [u.column for u in shape.unmapped if entry.covers(u.table, u.column)]
        if covered:
            found.append({"what": entry.describe(), "columns": covered, "reason": entry.reason})
    return found


def column_choices(pii_map: PiiMap, shape: IlsShape) -> list[str]:
    """Which of a release line's alternative columns each aggregation reads."""
    out = []
    for name, table_map in pii_map.tables.items():
        spec, t = table_map.aggregate, shape.tables.get(name)
        if spec is None or t is None:
            continue
        if isinstance(spec.renewals, list):
            chosen = next((c for c in spec.renewals if c in t.c), None)
            out.append(f"{name}: renewals counted from {name}.{chosen}")
        for dim in ("event", "patron_category", "branch", "itemtype", "ccode"):
            expr = getattr(spec, dim)
            if expr is None:
                continue
            if expr.coalesce and any("." not in c and c not in t.c for c in expr.coalesce) or \
                    expr.coalesce and any(c.startswith("patron.") for c in expr.coalesce):
                present = [c for c in expr.coalesce if "." in c or c in t.c]
                absent = [c for c in expr.coalesce if "." not in c and c not in t.c]
                gone = f" (this release has no {', '.join(absent)})" if absent else ""
                out.append(f"{name}: {dim.replace('_', ' ')} taken from {' or else '.join(present)}{gone}")
            elif isinstance(expr.column, list):
                chosen = next((c for c in expr.column if c in t.c), None)
                out.append(f"{name}: {dim.replace('_', ' ')} taken from {name}.{chosen}")
    return out


def _rehearse(conn: Connection, ctx: RunContext, table: str, action: str, cutoff: dt.date, write: bool) -> None:
    """Run ``table``'s step once on an empty selection (the caller rolls back)."""
    if action == "anonymise_then_delete":
        scope = ctx.scope(table)
        conn.execute(sa.select(*scope.key_columns()).where(scope.eligible(cutoff)).limit(1)).all()
        count_removed_patrons(conn, ctx, scope, [], Deltas())
        if write:
            release_patron_rows(conn, ctx, [-1], Deltas())  # a patron key no row has: every statement, no change
        return
    scope = ctx.scope(table)
    table_map = scope.table_map
    conn.execute(sa.select(scope.link).select_from(scope.source).where(scope.eligible(cutoff)).limit(1)).all()
    if action == "delete":
        if write:
            delete_children(conn, ctx, table, sa.false(), Deltas())
            conn.execute(scope.table.delete().where(sa.false()))
        return
    if scope.table.c[table_map.link].primary_key:
        raise RunPlanError(f"{table}: the policy strips {table}.{table_map.link}, but it is part of the table's "
                           "primary key; schedule its records for delete")
    if ctx.anonymous_value is None and not scope.table.c[table_map.link].nullable:
        raise RunPlanError(f"{table}: the policy strips {table}.{table_map.link}, which cannot be NULL, and Koha's "
                           "AnonymousPatron preference is not set; set AnonymousPatron or schedule it for delete")
    if write:
        strip_rows(conn, ctx, scope, sa.false(), 0, action == "aggregate_then_strip", Deltas())


def plan_run(ctx: RunContext, loaded: LoadedPolicy, as_of: dt.date, tables: list[str], *,
             write: bool = True) -> RetentionPlan:
    """Plan and rehearse every step; RunPlanError (one line naming the table) if any cannot run."""
    shape, pii_map = ctx.shape, ctx.pii_map
    ctx.as_of = as_of
    found_out_of_scope = out_of_scope_findings(shape, loaded)
    steps = []
    for table in tables:
        rule = loaded.policy.rule_for(pii_map.tables[table].records)
        steps.append(PlannedStep(table, rule.records, rule.action, rule.keep_days, cutoff_for(as_of, rule.keep_days)))
    with ctx.ils.connect() as conn:
        trans = conn.begin()
        try:
            for step in steps:
                try:
                    _rehearse(conn, ctx, step.table, step.action, step.cutoff, write)
                except PatronguardError:
                    raise
                except KeyError as exc:
                    raise RunPlanError(f"{step.table}: cannot {step.action.replace('_', ' ')}: this database has "
                                       f"no column {exc.args[0]!r} that the step needs") from None
                except sa.exc.DBAPIError as exc:
                    reason = str(exc.orig).splitlines()[0][:200] if exc.orig else type(exc).__name__
                    raise RunPlanError(f"{step.table}: cannot {step.action.replace('_', ' ')}: the database "
                                       f"refused a statement of the step ({reason})") from None
        finally:
            trans.rollback()
    release = shape.release.describe() if shape.release else "release not detected"
    notes = list(dict.fromkeys(ctx.notes))
    return RetentionPlan(release, steps, column_choices(pii_map, shape) + notes, found_out_of_scope)
