"""Show a decision to a person at the desk (text) or to a program (JSON)."""
from __future__ import annotations

import json

from .decision import Decision


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
