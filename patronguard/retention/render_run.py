"""Render a retention run's outcome for the terminal and as a Prefect markdown artifact."""
from __future__ import annotations

from .run import RetentionRun

_HEAD = ("table", "action", "examined", "exempt", "aggregated", "stripped", "scrubbed", "deleted")


def _rows(run: RetentionRun) -> list[tuple[str, ...]]:
    return [(o.table, o.action, f"{o.examined:,}", f"{sum(o.exempt.values()):,}", f"{o.aggregated:,}",
             f"{o.stripped:,}", f"{o.scrubbed:,}", f"{o.deleted:,}") for o in run.tables]


def _title(run: RetentionRun) -> str:
    mode = "dry run (nothing changed)" if run.dry_run else "retention run"
    return (f"{mode} as of {run.as_of.isoformat()} — {run.policy_library}, policy {run.policy_version} "
            f"(sha256 {run.policy_sha256[:12]}), run {run.run_id}")


def _exempt_lines(run: RetentionRun) -> list[str]:
    return [f"{o.table}: " + ", ".join(f"{k} {v:,}" for k, v in o.exempt.items()) for o in run.tables if o.exempt]


def render_run_text(run: RetentionRun) -> str:
    rows = [_HEAD, *_rows(run)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEAD))]
    line = lambda r: "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [_title(run), "", line(rows[0]), "  ".join("-" * w for w in widths), *map(line, rows[1:])]
    if run.dry_run:
        out.append("")
        out.append("Would act on: " + ", ".join(f"{t.table} {t.actionable:,}" for t in run.before.tables if t.actionable))
    exempt = _exempt_lines(run)
    if exempt:
        out += ["", "Exempt (kept), by reason:"] + [f"  {e}" for e in exempt]
    if any(run.recovered.values()):
        out.append(f"Recovered from a killed run: {run.recovered}")
    if run.plan is not None:
        out += ["", f"Release: {run.plan.release}"] + [f"  {c}" for c in run.plan.choices]
        out += [f"  out of scope by policy: {o['what']} — {o['reason']}" for o in run.plan.out_of_scope]
    if run.verification is not None:
        out.append(f"Verified: {'yes' if run.verification.ok else 'NO'}; {len(run.batch_ids)} batches.")
    return "\n".join(out)


def _did_something(o) -> bool:
    """Changed rows, or kept some for a reason (an exemption is worth reading)."""
    return bool(o.aggregated or o.stripped or o.scrubbed or o.deleted or o.anonymised or o.staff_links_cleared
                or sum(o.exempt.values()))


def render_run_markdown(run: RetentionRun) -> str:
    """The Prefect artifact: verification first, then the tables that had rows to act on (the others in one
    line), short enough to read in a normal window."""
    mode = "Dry run (nothing changed)" if run.dry_run else "Retention run"
    out = [f"# {mode} as of {run.as_of.isoformat()} — {run.policy_library}"]
    if run.verification is not None:
        out += ["", f"**Verification: {'passed' if run.verification.ok else 'FAILED'}** "
                    f"({len(run.batch_ids):,} batches)."]
    acted = [o for o in run.tables if _did_something(o)]
    quiet = [o.table for o in run.tables if o not in acted]
    total = sum(o.stripped + o.deleted for o in run.tables)
    out += ["", f"Rows stripped or deleted: **{total:,}** in {len(acted)} tables; policy {run.policy_version} "
                f"(sha256 `{run.policy_sha256[:12]}`), run `{run.run_id}`."]
    out += ["", "| " + " | ".join(_HEAD) + " |", "|---|---|" + "--:|" * (len(_HEAD) - 2)]
    by_table = {o.table: o for o in acted}
    out += ["| " + " | ".join(r) + " |" for r in _rows(run) if r[0] in by_table]
    if quiet:
        out += ["", "Nothing past retention in: " + ", ".join(quiet) + "."]
    exempt = _exempt_lines(run)
    if exempt:
        out += ["", "## Exempt (kept), by reason", ""] + [f"- {e}" for e in exempt]
    out += ["", "## Cutoffs", ""] + [f"- {o.table}: before {o.cutoff.isoformat()} ({o.records})" for o in run.tables]
    if run.plan is not None:
        out += ["", "## Plan for this database", "", f"- {run.plan.release}"] + [f"- {c}" for c in run.plan.choices]
        out += [f"- out of scope by policy: {o['what']} — {o['reason']}" for o in run.plan.out_of_scope]
    return "\n".join(out) + "\n"
