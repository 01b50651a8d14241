"""Show a decision to a person at the desk (text) or to a program (JSON)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .decision import Decision

if TYPE_CHECKING:
    from .bulk import BulkDecision


def render_text(decision: Decision, *, explain: bool = True) -> str:
    lines = [
        decision.reason,
        "",
        f"outcome:     {decision.outcome}",
        f"fields:      {', '.join(decision.fields) if decision.fields else '(none)'}",
        f"clauses:     {'; '.join(decision.clauses) if decision.clauses else '(none)'}",
    ]
    if decision.obligations:
        lines.append("obligations:")
        for ob in decision.obligations:
            due = f" (within {ob.due_days} day{'s' if ob.due_days != 1 else ''})" if ob.due_days is not None else ""
            lines.append(f"  - [{ob.code}] {ob.text}{due}")
    else:
        lines.append("obligations: (none)")
    lines.append(f"policy:      {decision.policy_library} {decision.policy_version} "
                 f"(sha256 {decision.policy_sha256[:12]}…)")
    lines.append(f"request:     sha256 {decision.request_sha256[:12]}…")
    if explain:
        lines.append("why:")
        for entry in decision.explanation:
            if entry.status == "not_applicable":
                continue
            mark = {"met": "+", "not_met": "-", "note": "*"}.get(entry.status, " ")
            effect = f" → {entry.effect}" if entry.effect else ""
            cites = f" [{'; '.join(entry.cites)}]" if entry.cites else ""
            lines.append(f"  {mark} {entry.rule}{cites}{effect}: {entry.why}")
        skipped = sum(1 for e in decision.explanation if e.status == "not_applicable")
        lines.append(f"  ({skipped} other rule{'s' if skipped != 1 else ''} did not apply; --json lists them)")
    return "\n".join(lines)


def render_json(decision: Decision) -> str:
    return json.dumps(decision.to_dict(), indent=2, ensure_ascii=False)


def render_bulk_text(decision: "BulkDecision", *, explain: bool = True) -> str:
    """A decision about a set of patrons: the answer for the set, then each group where it differs, with
    its count (borrowernumbers only in ``--json``, and only of the groups that differ)."""
    lines = [
        decision.reason,
        "",
        f"outcome:     {decision.outcome}",
        f"patrons:     {decision.total} ({decision.scope}); released for {len(decision.released)}",
        f"clauses:     {'; '.join(decision.clauses()) if decision.clauses() else '(none)'}",
        f"policy:      {decision.policy_library} {decision.policy_version} (sha256 {decision.policy_sha256[:12]}…)",
        f"request:     sha256 {decision.request_sha256[:12]}…",
    ]
    for i, group in enumerate(decision.groups):
        d = group.decision
        title = "for the set" if i == 0 else "differs for"
        lines.append("")
        lines.append(f"{title}: {group.count} patron{'s' if group.count != 1 else ''} ({'; '.join(group.facts)})")
        lines.append(f"  outcome: {d.outcome}; fields: {', '.join(d.fields) if d.fields else '(none)'}")
        lines.append(f"  reason:  {d.reason}")
        lines.append(f"  clauses: {'; '.join(d.clauses) if d.clauses else '(none)'}")
        for ob in d.obligations:
            lines.append(f"  - [{ob.code}] {ob.text}")
        if explain:
            for entry in d.explanation:
                if entry.status == "not_applicable":
                    continue
                mark = {"met": "+", "not_met": "-", "note": "*"}.get(entry.status, " ")
                effect = f" → {entry.effect}" if entry.effect else ""
                lines.append(f"  {mark} {entry.rule}{effect}: {entry.why}")
    return "\n".join(lines)


def render_bulk_json(decision: "BulkDecision") -> str:
    return json.dumps(decision.to_dict(), indent=2, ensure_ascii=False)
