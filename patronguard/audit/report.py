"""The Board of Trustees' audit report: one self-contained HTML file (no scripts, no external assets).

Westport §5: every decision is subject to review by the Board. The report
reads the audit log once (streaming) and shows: whether the log verifies
(and its tree head, which the Board can keep as an anchor), events by kind,
decisions by outcome, by clause and by action, law-enforcement requests,
emergencies, open obligations, legal holds, purges, retention runs and
re-pins of the log (``patronguard audit repin``, with their reasons). The
checks listed are those actually made — pin, MACs, checkpoints and each
external witness (:mod:`patronguard.audit.witness_check`) — never more.

Payloads hold no patron values; even so, the report shows only known,
summary fields (counts, clause ids, outcomes, short request hashes, the
first 12 digits of keyed patron hashes) and never dumps a payload. Kinds it
does not know are counted under "Other events".

Classification (payload fields other engineers write):
* a *law-enforcement* event: ``requester_role``/``request_kind``/``requester``/
  ``action`` mentioning "law" or "police", or clause ``westport-4`` / "Westport §4";
* an *emergency*: ``emergency`` set (not "none"), those fields mentioning "emergency", or clause
  ``westchester-6`` / "Westchester §6".
"""
from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter, defaultdict
from pathlib import Path

import sqlalchemy as sa

from .log import AuditVerification, verify_log

_LAW_FIELDS = ("requester_role", "request_kind", "requester", "action", "category")
LAW_CLAUSES = {"westport-4", "Westport §4"}
EMERGENCY_CLAUSES = {"westchester-6", "Westchester §6"}
KNOWN_KINDS = {"decision", "request-state", "legal-hold-placed", "legal-hold-released", "purge",
               "obligation-opened", "obligation-closed", "retention-run", "retention-dry-run", "retention-recovered"}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;
color:#1b1b1b;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#075e07;font-weight:600}.bad{color:#a30000;font-weight:600}.muted{color:#666}code{font-size:.9em}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _text(payload: dict, *fields: str) -> str:
    return " ".join(str(payload.get(f, "")) for f in fields).lower()


def _clauses(payload: dict) -> list[str]:
    clauses = payload.get("clauses") or []
    if isinstance(clauses, str):
        return [clauses]
    out = []
    for clause in clauses if isinstance(clauses, list) else []:
        out.append(clause.get("id") or clause.get("clause") or json.dumps(clause, sort_keys=True)
                   if isinstance(clause, dict) else str(clause))
    return out


def is_law_enforcement(payload: dict) -> bool:
    text = _text(payload, *_LAW_FIELDS)
    return "law" in text or "police" in text or bool(LAW_CLAUSES & set(_clauses(payload)))


def is_emergency(payload: dict) -> bool:
    declared = payload.get("emergency") not in (None, "", "none", False)
    return declared or "emergency" in _text(payload, *_LAW_FIELDS) or bool(EMERGENCY_CLAUSES & set(_clauses(payload)))


def _short(value, n: int = 12) -> str:
    text = "" if value is None else str(value)
    return text[:n] + "…" if len(text) > n else text


def _obligations(payload: dict) -> str:
    items = payload.get("obligations") or []
    if not isinstance(items, list):
        items = [items]
    return ", ".join(i.get("code", "?") if isinstance(i, dict) else str(i) for i in items)


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), empty: str = "none") -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _total_counts(counts) -> int | str:
    if isinstance(counts, dict):
        return sum(v for v in counts.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return "" if counts is None else _short(counts, 40)


def _recovered(payload: dict) -> tuple[str, int]:
    """A ``retention-recovered`` event: what it says of the killed runs, and the rows their batches changed."""
    runs = [r for r in payload.get("runs") or [] if isinstance(r, dict)]
    batches = [b for r in runs for b in r.get("batches") or [] if isinstance(b, dict)]
    rows = 0
    for batch in batches:
        for counts in (batch.get("counts") or {}).values() if isinstance(batch.get("counts"), dict) else []:
            if isinstance(counts, dict):
                rows += sum(v for k, v in counts.items() if k in ("stripped", "deleted", "anonymised")
                            and isinstance(v, int) and not isinstance(v, bool))
    kind = (f"recovered {len(batches)} batches of {len(runs)} killed run(s): {payload.get('completed', 0)} "
            f"completed, {payload.get('abandoned', 0)} abandoned")
    return kind, rows


def _run_changes(payload: dict) -> int:
    total = 0
    for table in payload.get("tables") or []:
        if isinstance(table, dict):
            total += sum(int(table.get(k) or 0) for k in ("stripped", "deleted", "anonymised")
                         if isinstance(table.get(k), int))
    return total


def render_board_report(store, out_path: Path | str, *, verification: AuditVerification | None = None,
                        table: str = "audit_events", title: str = "Audit report for the Board of Trustees") -> Path:
    """Write the Board's HTML report of the audit log to ``out_path``; return its path."""
    out_path = Path(out_path)
    if verification is None:
        verification = verify_log(store, record=False, table=table)
    events = store[table]
    by_kind: Counter = Counter()
    outcomes: Counter = Counter()
    clause_outcomes: dict[str, Counter] = defaultdict(Counter)
    actions: Counter = Counter()
    law, emergencies, purges, runs, repins = [], [], [], [], []
    holds: dict[str, dict] = {}
    obligations: dict[str, dict] = {}
    request_states: dict[str, str] = {}
    other: Counter = Counter()
    first_at = last_at = None
    with store.engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, max_row_buffer=20_000).execute(
            sa.select(events.c.seq, events.c.at, events.c.kind, events.c.payload).order_by(events.c.seq))
        for seq, at, kind, text in rows:
            by_kind[kind] += 1
            first_at = first_at or at
            last_at = at
            try:
                payload = json.loads(text)
            except (TypeError, ValueError):
                payload = {}
            if not isinstance(payload, dict):
                payload = {}
            when = at.strftime("%Y-%m-%d %H:%M") if isinstance(at, dt.datetime) else str(at)[:16]
            if kind == "decision":
                outcome = str(payload.get("outcome", "?"))
                outcomes[outcome] += 1
                actions[str(payload.get("action", "?"))] += 1
                for clause in _clauses(payload) or ["(none cited)"]:
                    clause_outcomes[clause][outcome] += 1
                row = [seq, when, payload.get("action", ""), outcome, ", ".join(_clauses(payload)),
                       _obligations(payload), _short(payload.get("request_sha256"))]
                if is_law_enforcement(payload):
                    law.append(row)
                if is_emergency(payload):
                    emergencies.append(row)
            elif kind == "request-state":
                request_id = str(payload.get("request_id", "?"))
                request_states[request_id] = str(payload.get("state", "?"))
                if payload.get("state") == "received":
                    row = [seq, when, payload.get("action", ""), "request received", "", "",
                           _short(request_id)]
                    if is_law_enforcement(payload):
                        law.append(row)
                    if is_emergency(payload):
                        emergencies.append(row)
            elif kind == "legal-hold-placed":
                holds[str(payload.get("hold_id"))] = {
                    "placed": when, "seq": seq, "patron": _short(payload.get("patron_hash")),
                    "reference": payload.get("reference", ""), "released": ""}
            elif kind == "legal-hold-released":
                holds.setdefault(str(payload.get("hold_id")), {"placed": "?", "seq": seq, "patron": "",
                                                               "reference": ""})["released"] = when
            elif kind == "obligation-opened":
                obligations[str(payload.get("obligation_id"))] = {
                    "code": payload.get("code", "?"), "opened": when, "seq": seq,
                    "request": _short(payload.get("request_id")), "due_days": payload.get("due_days", "")}
            elif kind == "obligation-closed":
                obligations.pop(str(payload.get("obligation_id")), None)
            elif kind == "purge":
                purges.append([seq, when, _short(payload.get("scope"), 60), _total_counts(payload.get("counts"))])
            elif kind == "audit-repinned":
                previous = payload.get("previous_pin") if isinstance(payload.get("previous_pin"), dict) else {}
                repins.append([seq, when, _short(payload.get("reason"), 120),
                               f"log {_short(previous.get('log_id'), 8)}, {previous.get('tree_size', '?')} entries"
                               if previous else "none", payload.get("tree_size_before", "")])
            elif kind in ("retention-run", "retention-dry-run"):
                policy = payload.get("policy") if isinstance(payload.get("policy"), dict) else {}
                runs.append([seq, when, "dry run" if kind == "retention-dry-run" else "run",
                             payload.get("as_of", ""), f"{policy.get('library', '')} {policy.get('version', '')}",
                             _run_changes(payload), payload.get("verified", "")])
            elif kind == "retention-recovered":
                what, rows = _recovered(payload)
                runs.append([seq, when, what, "", "", rows, ""])
            else:
                other[kind] += 1

    v = verification
    mac_words = (f"every hash and link checked, {v.macs_checked:,} entry MAC(s) verified"
                 + (f" ({v.legacy_entries:,} legacy entries carry none)" if v.legacy_entries else "")
                 if v.mac_checking else "every hash and link checked; entry MACs were NOT checked")
    status = (f'<p class="ok">The log verifies: {v.entries:,} entries, {mac_words}'
              f"{'' if not v.checkpoints else f', {v.checkpoints} tree head(s) kept outside the store matched'}.</p>"
              if v.ok else
              f'<p class="bad">The log does NOT verify: '
              f"{'first bad entry ' + str(v.first_bad_seq) + ': ' if v.first_bad_seq is not None else ''}"
              f"{_e(v.problem)}</p>")
    notes = "".join(f'<p class="muted">{_e(n)}</p>' for n in v.notes)
    checks = ("<p>Checks actually made:</p><ul>" + "".join(f"<li>{_e(c)}</li>" for c in v.checks) + "</ul>"
              if v.checks else '<p class="muted">No record of the checks made was given.</p>')
    pin_line = (f'<p class="muted">Pin (log identity, MAC requirement, latest tree head, kept outside the store): '
                f"{'found and verified' if v.pin_found else 'NOT found'} at {_e(v.pin_file)}.</p>"
                if v.pin_file else "")
    head = _table(["tree size", "RFC 6962 root hash", "head entry hash"],
                  [[v.entries, v.root_hash, v.head_hash]], numeric={0})
    clause_rows = [[clause, sum(c.values()), ", ".join(f"{o}: {n}" for o, n in sorted(c.items()))]
                   for clause, c in sorted(clause_outcomes.items())]
    open_obl = [[o["seq"], o["opened"], o["code"], o["request"], o["due_days"]]
                for o in sorted(obligations.values(), key=lambda o: o["seq"])]
    hold_rows = [[hid, h["placed"], h["patron"], h["reference"], h["released"] or "active"]
                 for hid, h in sorted(holds.items(), key=lambda kv: kv[1]["seq"])]
    state_counts = Counter(request_states.values())
    decision_headers = ["entry", "time (UTC)", "action", "outcome", "clauses", "obligations", "request"]
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    period = f"{_e(str(first_at)[:16])} – {_e(str(last_at)[:16])}" if first_at else "no events"

    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">Generated {generated} from store {_e(store.url)}. Period: {period}. '
        "No patron is named: patrons appear only as keyed hashes.</p>",
        '<h2 id="integrity">Integrity of the log</h2>', status, checks, pin_line, notes,
        "<p>Keep this tree head: a later log whose entry at this size has another hash was rewritten.</p>", head,
        '<h2 id="events">Events by kind</h2>',
        _table(["kind", "events"], [[k, n] for k, n in sorted(by_kind.items())], numeric={1}),
        '<h2 id="decisions">Decisions by outcome</h2>',
        _table(["outcome", "decisions"], [[o, n] for o, n in sorted(outcomes.items())], numeric={1},
               empty="no decisions"),
        '<h2 id="clauses">Decisions by clause</h2>',
        _table(["clause", "decisions", "by outcome"], clause_rows, numeric={1}, empty="no decisions"),
        '<h2 id="actions">Decisions by action</h2>',
        _table(["action", "decisions"], [[a, n] for a, n in sorted(actions.items())], numeric={1},
               empty="no decisions"),
        '<h2 id="law-enforcement">Law-enforcement requests</h2>',
        _table(decision_headers, law, numeric={0}, empty="no law-enforcement requests"),
        '<h2 id="emergencies">Emergencies</h2>',
        _table(decision_headers, emergencies, numeric={0}, empty="no emergency releases"),
        '<h2 id="requests">Requests by current state</h2>',
        _table(["state", "requests"], [[s, n] for s, n in sorted(state_counts.items())], numeric={1},
               empty="no requests"),
        '<h2 id="obligations">Open obligations</h2>',
        _table(["entry", "opened (UTC)", "obligation", "request", "due (days)"], open_obl, numeric={0},
               empty="no open obligations"),
        '<h2 id="holds">Legal holds</h2>',
        _table(["hold", "placed (UTC)", "patron (keyed hash)", "reference", "released"], hold_rows,
               empty="no legal holds"),
        '<h2 id="purges">Purges</h2>',
        _table(["entry", "time (UTC)", "scope", "rows"], purges, numeric={0, 3}, empty="no purges"),
        '<h2 id="retention">Retention runs</h2>',
        _table(["entry", "time (UTC)", "kind", "as of", "policy", "rows stripped/deleted/anonymised", "verified"],
               runs, numeric={0, 5}, empty="no retention runs"),
        '<h2 id="repins">Re-pins of the audit log</h2>',
        "<p>A re-pin accepts the store's log as it is after a deliberate restore or replacement of the store; "
        "tree heads published before it no longer bind.</p>",
        _table(["entry", "time (UTC)", "reason", "previous pin", "entries before"], repins, numeric={0, 4},
               empty="no re-pins"),
        '<h2 id="other">Other events</h2>',
        _table(["kind", "events"], [[k, n] for k, n in sorted(other.items())], numeric={1},
               empty="none"),
        "</body></html>",
    ]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(out_path)
    return out_path
