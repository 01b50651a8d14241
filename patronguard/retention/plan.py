"""Plan the whole run, then write: every statement built and tried before the first change.

``plan_run`` works out, against the columns this database actually has, what
each table's step will do (action, cutoff, which of a release line's
alternative columns it reads) and then *rehearses* every step: each batch
processor runs once with an empty selection inside a transaction that is
rolled back — the row-locking SELECT that pages it, the aggregation, the
UPDATE of the patron link and of the free-text columns, every DELETE (child
rows, rows, a removed patron's belongings and the patron row), the staff
links cleared. So every statement the run will issue is built and executed
by the database itself (unknown columns, types, permissions) before a single
row changes; a refusal stops the run with one line naming the step's table,
the statement kind and the table it was on, and nothing is half-done.

Before that, the policy is checked against the after-run suite
(:mod:`patronguard.validate.after`: an expectation the policy would make fail
stops the run), and, when the run writes, the audit directories must be
writable and the store must accept every kind of write the run makes there
(:mod:`.preflight`).
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
from ..policy.models import AGGREGATE_THEN_DELETE
from ..validate.after import after_suite_conflicts, conflict_message
from .aggdelete import delete_counted, single_key, use_policy_actions
from .asof import cutoff_for
from .batches import strip_rows
from .children import delete_children
from .context import RunContext
from .ledger import Deltas
from .patrons import anonymise_and_delete, count_removed_patrons, release_patron_rows
from .preflight import driver_reason, refused_statement, rehearse_store_writes, require_audit_writable


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
        for dim in ("event", "patron_category", "branch", "itemtype", "ccode", "location"):
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


def _rehearse_scrub(conn: Connection, scope) -> None:
    """The UPDATE that scrubs free text, on no row (the real one runs only where there is text to scrub)."""
    text = [c for c in scope.table_map.columns_with("free_text") if c in scope.table.c]
    if text:
        conn.execute(scope.table.update().where(sa.false()).values({c: scope.table.c[c] for c in text}))


def _rehearse(conn: Connection, ctx: RunContext, table: str, action: str, cutoff: dt.date, write: bool) -> None:
    """Run ``table``'s step once on an empty selection (the caller rolls back)."""
    scope = ctx.scope(table)
    if action == "anonymise_then_delete":
        (key,) = scope.key_columns()
        query = sa.select(key).where(scope.eligible(cutoff)).order_by(key).limit(1)
        conn.execute(ctx.lock(query, scope.table) if write else query).all()
        count_removed_patrons(conn, ctx, scope, [], Deltas())
        if write:
            release_patron_rows(conn, ctx, [-1], Deltas())  # a patron key no row has: every statement, no change
            anonymise_and_delete(conn, ctx, scope, [-1])
        return
    table_map = scope.table_map
    keys = scope.key_columns()
    page = keys[0] if len(keys) == 1 else scope.age if action != "delete" else scope.link
    paging = sa.select(page).select_from(scope.source).where(scope.eligible(cutoff)).order_by(page).limit(1)
    locks = write and (len(keys) == 1 or action != "delete")  # a delete paged on the link uses DISTINCT, no lock
    conn.execute(ctx.lock(paging, scope.table) if locks else paging).all()
    if action == AGGREGATE_THEN_DELETE:
        single_key(scope)
        if write:
            delete_counted(conn, ctx, scope, sa.false(), Deltas())
        return
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
        _rehearse_scrub(conn, scope)


def check_after_suite(ctx: RunContext, loaded: LoadedPolicy) -> None:
    """RunPlanError if the after-run suite holds an expectation this policy would make fail."""
    conflicts = after_suite_conflicts(loaded.policy, ctx.pii_map, anonymous_is_null=ctx.anonymous_value is None)
    if conflicts:
        raise RunPlanError(conflict_message(loaded.path, conflicts))


def plan_run(ctx: RunContext, loaded: LoadedPolicy, as_of: dt.date, tables: list[str], *,
             write: bool = True) -> RetentionPlan:
    """Plan and rehearse every step; RunPlanError (one line naming the table) if any cannot run.

    Checks first that the policy and the after-run suite agree and that the run's audit event can be
    anchored (``var/audit`` and the pin directory writable); with ``write``, that the store accepts every
    write the run makes there."""
    shape, pii_map = ctx.shape, ctx.pii_map
    ctx.as_of = as_of
    found_out_of_scope = out_of_scope_findings(shape, loaded)
    check_after_suite(ctx, loaded)
    require_audit_writable(ctx.store)
    if write:
        rehearse_store_writes(ctx.store, ctx.run_id)
    use_policy_actions(ctx, loaded)
    steps = []
    for table in tables:
        table_map = pii_map.tables[table]
        rule = loaded.policy.rule_for(table_map.records)
        steps.append(PlannedStep(table, rule.records, rule.action_for(table_map), rule.keep_days,
                                 cutoff_for(as_of, rule.keep_days)))
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
                    kind, on = refused_statement(exc)
                    raise RunPlanError(f"{step.table}: cannot {step.action.replace('_', ' ')}: the database refused "
                                       f"{kind} on {on} ({driver_reason(exc)}); nothing was written") from None
        finally:
            trans.rollback()
    release = shape.release.describe() if shape.release else "release not detected"
    notes = list(dict.fromkeys(ctx.notes))
    return RetentionPlan(release, steps, column_choices(pii_map, shape) + notes, found_out_of_scope)
