"""What the Board report says, gathered from the audit log in one streaming pass (no HTML here).

Payloads hold no patron values; even so, only known, summary fields are kept (counts, clause ids,
outcomes, short request hashes, the first 12 digits of keyed patron hashes) and a payload is never
dumped. Kinds the report does not know are counted under "Other events".

Rows changed are summed by :mod:`.report_counts`.

Classification (payload fields other engineers write):

* a *law-enforcement* event: ``requester_role``/``request_kind``/``requester``/``action`` mentioning "law"
  or "police", or clause ``westport-4`` / "Westport §4";
* an *emergency*: ``emergency`` set (not "none"), those fields mentioning "emergency", or clause
  ``westchester-6`` / "Westchester §6".
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from .report_counts import Tally, count_of, scope_as_written, short

_LAW_FIELDS = ("requester_role", "request_kind", "requester", "action", "category")
LAW_CLAUSES = {"westport-4", "Westport §4"}
EMERGENCY_CLAUSES = {"westchester-6", "Westchester §6"}
KNOWN_KINDS = {"decision", "request-state", "legal-hold-placed", "legal-hold-released", "purge",
               "obligation-opened", "obligation-closed", "retention-run", "retention-dry-run", "retention-recovered",
               "audit-repinned"}


def _text(payload: dict, *names: str) -> str:
    return " ".join(str(payload.get(f, "")) for f in names).lower()


def clauses_of(payload: dict) -> list[str]:
    clauses = payload.get("clauses") or []
    if isinstance(clauses, str):
        return [clauses]
    out = []
    for clause in clauses if isinstance(clauses, list) else []:
        out.append(str(clause.get("id") or clause.get("clause") or json.dumps(clause, sort_keys=True))
                   if isinstance(clause, dict) else str(clause))
    return out


def is_law_enforcement(payload: dict) -> bool:
    text = _text(payload, *_LAW_FIELDS)
    return "law" in text or "police" in text or bool(LAW_CLAUSES & set(clauses_of(payload)))


def is_emergency(payload: dict) -> bool:
    declared = payload.get("emergency") not in (None, "", "none", False)
    return declared or "emergency" in _text(payload, *_LAW_FIELDS) or bool(EMERGENCY_CLAUSES & set(clauses_of(payload)))


# ----------------------------------------------------------------------------- report rows
@dataclass
class DecisionRow:
    seq: int
    at: str
    action: str
    outcome: str
    clauses: list[str]
    obligations: list[str]
    request: str            # a short request hash, or "request received"
    received: bool = False  # a request-state "received" step, not a decision


@dataclass
class PurgeRow:
    seq: int
    at: str
    scope: str
    tally: Tally
    batches: int
    authorized_by: str
    policy_version: str


@dataclass
class RunRow:
    seq: int
    at: str
    kind: str               # retention-run | retention-dry-run | retention-recovered
    as_of: str
    policy: str
    tally: Tally
    batches: int
    verified: bool | None
    recovered: dict[str, int] = field(default_factory=dict)   # batches, runs, completed, abandoned


@dataclass
class BoardReport:
    verification: object
    store_url: str
    generated: str
    first_at: str = ""
    last_at: str = ""
    by_kind: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    clause_outcomes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    actions: Counter = field(default_factory=Counter)
    law: list[DecisionRow] = field(default_factory=list)
    emergencies: list[DecisionRow] = field(default_factory=list)
    request_states: dict[str, str] = field(default_factory=dict)
    obligations: dict[str, dict] = field(default_factory=dict)
    holds: dict[str, dict] = field(default_factory=dict)
    purges: list[PurgeRow] = field(default_factory=list)
    runs: list[RunRow] = field(default_factory=list)
    repins: list[dict] = field(default_factory=list)
    other: Counter = field(default_factory=Counter)

    @property
    def decisions(self) -> int:
        return sum(self.outcomes.values())

    @property
    def state_counts(self) -> Counter:
        return Counter(self.request_states.values())

    @property
    def open_obligations(self) -> list[dict]:
        return sorted(self.obligations.values(), key=lambda o: o["seq"])

    @property
    def hold_rows(self) -> list[dict]:
        return sorted(self.holds.values(), key=lambda h: h["seq"])

    @property
    def active_holds(self) -> int:
        return sum(1 for h in self.holds.values() if not h["released"])

    @property
    def purge_totals(self) -> Tally:
        return _merged(p.tally for p in self.purges)

    @property
    def run_totals(self) -> Tally:
        return _merged(r.tally for r in self.runs)

    # --------------------------------------------------------------------- one event
    def add(self, seq: int, at: str, kind: str, payload: dict) -> None:
        self.by_kind[kind] += 1
        self.first_at = self.first_at or at
        self.last_at = at
        handler = _HANDLERS.get(kind)
        if handler is None:
            self.other[kind] += 1
        else:
            handler(self, seq, at, payload)

    def _decision(self, seq: int, at: str, payload: dict) -> None:
        outcome = str(payload.get("outcome", "?"))
        self.outcomes[outcome] += 1
        self.actions[str(payload.get("action", "?"))] += 1
        for clause in clauses_of(payload) or ["(none cited)"]:
            self.clause_outcomes[clause][outcome] += 1
        items = payload.get("obligations") or []
        items = items if isinstance(items, list) else [items]
        row = DecisionRow(seq, at, str(payload.get("action", "")), outcome, clauses_of(payload),
                          [str(i.get("code", "?")) if isinstance(i, dict) else str(i) for i in items],
                          short(payload.get("request_sha256")))
        self._classify(row, payload)

    def _classify(self, row: DecisionRow, payload: dict) -> None:
        if is_law_enforcement(payload):
            self.law.append(row)
        if is_emergency(payload):
            self.emergencies.append(row)

    def _request_state(self, seq: int, at: str, payload: dict) -> None:
        request_id = str(payload.get("request_id", "?"))
        self.request_states[request_id] = str(payload.get("state", "?"))
        if payload.get("state") == "received":
            self._classify(DecisionRow(seq, at, str(payload.get("action", "")), "", [], [], short(request_id),
                                       received=True), payload)

    def _hold_placed(self, seq: int, at: str, payload: dict) -> None:
        self.holds[str(payload.get("hold_id"))] = {
            "hold": str(payload.get("hold_id")), "placed": at, "seq": seq, "patron": short(payload.get("patron_hash")),
            "reference": str(payload.get("reference") or ""), "released": ""}

    def _hold_released(self, seq: int, at: str, payload: dict) -> None:
        hold = str(payload.get("hold_id"))
        self.holds.setdefault(hold, {"hold": hold, "placed": "", "seq": seq, "patron": "", "reference": ""})
        self.holds[hold]["released"] = at

    def _obligation_opened(self, seq: int, at: str, payload: dict) -> None:
        self.obligations[str(payload.get("obligation_id"))] = {
            "code": str(payload.get("code", "?")), "opened": at, "seq": seq,
            "request": short(payload.get("request_id")), "due_days": _due(payload.get("due_days"))}

    def _obligation_closed(self, seq: int, at: str, payload: dict) -> None:
        self.obligations.pop(str(payload.get("obligation_id")), None)

    def _purge(self, seq: int, at: str, payload: dict) -> None:
        tally = Tally()
        tally.add_nested(payload.get("counts"))
        batch_ids = payload.get("batch_ids")
        self.purges.append(PurgeRow(seq, at, scope_as_written(payload.get("scope")), tally,
                                    len(batch_ids) if isinstance(batch_ids, list) else 0,
                                    str(payload.get("authorized_by") or ""), str(payload.get("policy_version") or "")))

    def _run(self, seq: int, at: str, payload: dict, kind: str) -> None:
        tally = Tally()
        for outcome in payload.get("tables") or []:
            if isinstance(outcome, dict) and outcome.get("table"):
                tally.add(outcome["table"], outcome)
        policy = payload.get("policy") if isinstance(payload.get("policy"), dict) else {}
        verified = payload.get("verified")
        self.runs.append(RunRow(seq, at, kind, str(payload.get("as_of") or ""),
                                " ".join(str(policy.get(k) or "") for k in ("library", "version")).strip(), tally,
                                count_of(payload.get("batches")) or len(payload.get("batch_ids") or []),
                                verified if isinstance(verified, bool) else None))

    def _recovered(self, seq: int, at: str, payload: dict) -> None:
        runs = [r for r in payload.get("runs") or [] if isinstance(r, dict)]
        batches = [b for r in runs for b in r.get("batches") or [] if isinstance(b, dict)]
        tally = Tally()
        for batch in batches:
            tally.add_nested(batch.get("counts"))
        self.runs.append(RunRow(seq, at, "retention-recovered", "", "", tally, len(batches), None, {
            "batches": len(batches), "runs": len(runs), "completed": count_of(payload.get("completed")),
            "abandoned": count_of(payload.get("abandoned"))}))

    def _repin(self, seq: int, at: str, payload: dict) -> None:
        previous = payload.get("previous_pin") if isinstance(payload.get("previous_pin"), dict) else None
        self.repins.append({
            "seq": seq, "at": at, "reason": str(payload.get("reason") or ""),
            "previous_log": "" if previous is None else str(previous.get("log_id") or ""),
            "previous_size": None if previous is None else previous.get("tree_size"),
            "entries_before": payload.get("tree_size_before")})


def _due(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _merged(tallies) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


_HANDLERS = {
    "decision": BoardReport._decision,
    "request-state": BoardReport._request_state,
    "legal-hold-placed": BoardReport._hold_placed,
    "legal-hold-released": BoardReport._hold_released,
    "obligation-opened": BoardReport._obligation_opened,
    "obligation-closed": BoardReport._obligation_closed,
    "purge": BoardReport._purge,
    "retention-run": lambda r, s, a, p: r._run(s, a, p, "retention-run"),
    "retention-dry-run": lambda r, s, a, p: r._run(s, a, p, "retention-dry-run"),
    "retention-recovered": BoardReport._recovered,
    "audit-repinned": BoardReport._repin,
}


def when(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if isinstance(at, dt.datetime) else str(at)[:16]


def gather_report(store, verification, *, table: str = "audit_events") -> BoardReport:
    """Read the audit log once (streaming) into a :class:`BoardReport`."""
    report = BoardReport(verification=verification, store_url=store.url,
                         generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"))
    events = store[table]
    with store.engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, max_row_buffer=20_000).execute(
            sa.select(events.c.seq, events.c.at, events.c.kind, events.c.payload).order_by(events.c.seq))
        for seq, at, kind, text in rows:
            try:
                payload = json.loads(text)
            except (TypeError, ValueError):
                payload = {}
            report.add(seq, when(at), str(kind), payload if isinstance(payload, dict) else {})
    return report
