"""Render the exposure report for a terminal, as Markdown (Prefect artifact) and as JSON."""
from __future__ import annotations

import json

from .exposure import ExposureReport

_HEAD = ("table", "cat", "records", "keep", "identified", "past ret.", "exempt", "actionable", "oldest")


def _exempt_text(exempt: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in exempt.items()) or "-"


def _rows(report: ExposureReport) -> list[tuple[str, ...]]:
    return [
        (
            t.table, t.category, t.records, f"{t.keep_days}d", f"{t.identified:,}", f"{t.past_retention:,}",
            f"{sum(t.exempt.values()):,}", f"{t.actionable:,}",
            t.oldest.isoformat() if t.oldest else "-",
        )
        for t in report.tables
    ]


def _header_lines(report: ExposureReport) -> list[str]:
    return [
        f"Privacy exposure as of {report.as_of.isoformat()} — {report.policy_library}, policy version "
        f"{report.policy_version} (sha256 {report.policy_sha256[:12]})",
        f"ILS: {report.ils} ({report.dialect}); AnonymousPatron: {report.anonymous_patron or 'not set'}",
    ]


def render_text(report: ExposureReport) -> str:
    rows = [_HEAD, *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEAD))]
    numeric = {3, 4, 5, 6, 7}

    def line(r):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    out = _header_lines(report) + ["", line(rows[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[1:]]
    out.append("")
    out.append("By Westchester §1 category:")
    for c in report.categories:
        oldest = c.oldest.isoformat() if c.oldest else "-"
        out.append(f"  ({c.category}) {c.name}: {c.past_retention:,} past retention, "
                   f"{c.exempt:,} exempt, {c.actionable:,} actionable, oldest {oldest}")
    exempt = [(t.table, t.exempt) for t in report.tables if t.exempt]
    if exempt:
        out.append("Exempt past retention, by reason:")
        out += [f"  {name}: {_exempt_text(e)}" for name, e in exempt]
    out.append(f"Total: {report.past_retention:,} rows past retention, {report.actionable:,} actionable.")
    if report.validation is not None:
        v = report.validation
        out.append(f"Source validation ({v['suite']}): {'passed' if v['success'] else 'FAILED'}, "
                   f"{v['evaluated']} expectations, {v['failed']} failed.")
    for note in report.notes:
        out.append(f"Note: {note}")
    return "\n".join(out)


def render_markdown(report: ExposureReport) -> str:
    out = [f"# Privacy exposure — {report.as_of.isoformat()}", ""]
    out += [f"- {line}" for line in _header_lines(report)]
    out += ["", "| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    out += ["| " + " | ".join(r) + " |" for r in _rows(report)]
    out += ["", "## By Westchester §1 category", "", "| category | past retention | exempt | actionable | oldest |",
            "|---|---|---|---|---|"]
    for c in report.categories:
        out.append(f"| ({c.category}) {c.name} | {c.past_retention:,} | {c.exempt:,} | {c.actionable:,} | "
                   f"{c.oldest.isoformat() if c.oldest else '-'} |")
    exempt = [(t.table, t.exempt) for t in report.tables if t.exempt]
    if exempt:
        out += ["", "## Exempt rows past retention", ""]
        out += [f"- **{name}**: {_exempt_text(e)}" for name, e in exempt]
    out += ["", "## Rules applied", ""]
    out += [f"- **{t.records}** ({t.table}): keep {t.keep_days} days, then {t.action.replace('_', ' ')} — "
            f"{'; '.join(t.clauses)}" for t in report.tables]
    if report.validation is not None:
        v = report.validation
        out += ["", f"Source validation `{v['suite']}`: **{'passed' if v['success'] else 'FAILED'}** "
                    f"({v['evaluated']} expectations, {v['failed']} failed)."]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def render_json(report: ExposureReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)
