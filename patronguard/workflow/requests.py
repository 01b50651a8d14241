"""A disclosure request's life in the store: received → referred → counsel review → decided.

Every step is a row in ``request_events`` and an event in the audit log
(no patron values: the subject appears there only as a keyed hash). A
decision may open obligations (consult counsel, bill the requester …),
which stay open — and visible — until closed; a request backed by legal
process places a legal hold on its subject's records, which the retention
run honours until the Director releases it.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from ..audit import append_event, checkpoint
from ..errors import InputError
from ..store import Store

STATES = ("received", "referred", "counsel_review", "decided", "closed")
TRANSITIONS = {
    "received": {"referred", "counsel_review", "decided", "closed"},
    "referred": {"counsel_review", "decided", "closed"},
    "counsel_review": {"decided", "referred", "closed"},
    "decided": {"closed", "counsel_review", "referred"},
    "closed": set(),
}
#: Where a decision leaves a request.
STATE_AFTER = {"allow": "decided", "allow_limited": "decided", "deny": "decided",
               "refer": "referred", "pending": "counsel_review"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    state: str
    action: str
    requester_role: str
    channel: str
    outcome: str | None
    request_sha256: str
    received_at: dt.datetime
    document: dict


def _audit(conn, store: Store, kind: str, payload: dict) -> None:
    append_event(conn, store["audit_events"], kind, payload)


def receive(store: Store, document: dict, *, action: str, requester_role: str, channel: str,
            request_sha256: str, actor: str) -> str:
    """Record a new request; return its id (flows and commands pass ids, never names)."""
    request_id = str(uuid.uuid4())
    now = _now()
    with store.engine.begin() as conn:
        conn.execute(store["access_requests"].insert().values(
            request_id=request_id, received_at=now, updated_at=now, action=action, requester_role=requester_role,
            channel=channel, request_sha256=request_sha256, state="received", document=json.dumps(document),
        ))
        conn.execute(store["request_events"].insert().values(
            request_id=request_id, at=now, state="received", actor=actor, note=None))
        _audit(conn, store, "request-state", {"request_id": request_id, "state": "received", "action": action,
                                               "requester_role": requester_role, "channel": channel})
    checkpoint(store)
    return request_id


def get_request(store: Store, request_id: str) -> RequestRecord:
    t = store["access_requests"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.request_id == request_id)).first()
    if row is None:
        raise InputError(f"request {request_id!r} is not in the store (see `patronguard request list`)")
    return RequestRecord(row.request_id, row.state, row.action, row.requester_role, row.channel, row.outcome,
                         row.request_sha256, row.received_at, json.loads(row.document))


def list_requests(store: Store, state: str | None = None) -> list[RequestRecord]:
    t = store["access_requests"]
    query = sa.select(t.c.request_id).order_by(t.c.received_at)
    if state:
        query = query.where(t.c.state == state)
    with store.engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    return [get_request(store, i) for i in ids]


def move(store: Store, request_id: str, state: str, *, actor: str, note: str | None = None,
         outcome: str | None = None, conn=None) -> None:
    """Move a request to ``state`` if the workflow allows it; record and audit the step."""
    if state not in STATES:
        raise InputError(f"state {state!r} is not one of: {', '.join(STATES)}")
    current = get_request(store, request_id).state
    if state != current and state not in TRANSITIONS[current]:
        raise InputError(f"request {request_id}: cannot go from {current} to {state}; "
                         f"allowed: {', '.join(sorted(TRANSITIONS[current])) or 'none (closed)'}")
    now = _now()

    def write(c):
        values = {"state": state, "updated_at": now} | ({"outcome": outcome} if outcome else {})
        c.execute(store["access_requests"].update().where(store["access_requests"].c.request_id == request_id)
                  .values(**values))
        c.execute(store["request_events"].insert().values(request_id=request_id, at=now, state=state,
                                                          actor=actor, note=note))
        _audit(c, store, "request-state", {"request_id": request_id, "state": state, "outcome": outcome})

    if conn is not None:
        write(conn)  # the caller commits, then checkpoints
    else:
        with store.engine.begin() as c:
            write(c)
        checkpoint(store)


def history(store: Store, request_id: str) -> list[dict]:
    t = store["request_events"]
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.request_id == request_id)
                                                       .order_by(t.c.event_id))]


# ----------------------------------------------------------------------------- obligations
def open_obligation(conn, store: Store, *, request_id: str | None, code: str, text: str,
                    due_days: int | None, decision_sha256: str | None = None) -> int:
    """Open one obligation (audited). With ``decision_sha256`` (the key of the decision that opens it) it is
    opened once: (request, decision, code) is unique in the store, so a second opening by the same decision
    returns the existing obligation's id and writes nothing."""
    t = store["obligations"]
    if decision_sha256 is not None:
        existing = conn.execute(sa.select(t.c.obligation_id).where(
            t.c.request_id == request_id, t.c.decision_sha256 == decision_sha256, t.c.code == code)).scalar()
        if existing is not None:
            return int(existing)
    now = _now()
    result = conn.execute(t.insert().values(
        request_id=request_id, code=code, text=text, opened_at=now,
        due_at=now + dt.timedelta(days=due_days) if due_days is not None else None,
        decision_sha256=decision_sha256,
    ))
    obligation_id = int(result.inserted_primary_key[0])
    _audit(conn, store, "obligation-opened", {"obligation_id": obligation_id, "code": code,
                                              "request_id": request_id, "due_days": due_days})
    return obligation_id


# ----------------------------------------------------------------------------- decisions (idempotency keys)
def recorded_decision(store: Store, decision_sha256: str) -> dict | None:
    """The decision recorded under this idempotency key (see :func:`..service.decision_key`), or None."""
    t = store["request_decisions"]
    with store.engine.connect() as conn:
        text = conn.execute(sa.select(t.c.decision).where(t.c.decision_sha256 == decision_sha256)).scalar()
    return None if text is None else json.loads(text)


def record_decision_once(conn, store: Store, decision_sha256: str, *, request_id: str, decision: dict) -> None:
    """Record a decision under its key in the caller's transaction; a second one fails on the primary key."""
    conn.execute(store["request_decisions"].insert().values(
        decision_sha256=decision_sha256, request_id=request_id, decided_at=_now(),
        decision=json.dumps(decision, sort_keys=True, default=str)))


def decisions(store: Store, request_id: str) -> list[dict]:
    """The decisions recorded for a request, oldest first."""
    t = store["request_decisions"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.request_id == request_id).order_by(t.c.decided_at))
        return [dict(r._mapping, decision=json.loads(r.decision)) for r in rows]


def _finish(store: Store, table: str, key: str, number: int, done: str, values: dict, *, what: str,
            listing: str, already: str, kind: str) -> None:
    """Set ``done`` (and ``values``) on one open row, audit it, checkpoint; refuse a missing or finished row."""
    t = store[table]
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(t.c[done]).where(t.c[key] == number)).first()
        if row is None:
            raise InputError(f"{what} {number} does not exist (see `patronguard {listing}`)")
        if row[0] is not None:
            raise InputError(f"{what} {number} {already}")
        conn.execute(t.update().where(t.c[key] == number).values({done: _now(), **values}))
        _audit(conn, store, kind, {key: number})
    checkpoint(store)


def close_obligation(store: Store, obligation_id: int, *, by: str, note: str) -> None:
    _finish(store, "obligations", "obligation_id", obligation_id, "closed_at", {"closed_by": by, "note": note},
            what="obligation", listing="obligations list", already="is already closed", kind="obligation-closed")


def open_obligations(store: Store) -> list[dict]:
    t = store["obligations"]
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.closed_at.is_(None))
                                                       .order_by(t.c.obligation_id))]


# ----------------------------------------------------------------------------- legal holds
def place_hold(conn, store: Store, *, borrowernumber: int, reason: str, reference: str | None, placed_by: str,
               request_id: str | None, patron_hash: Callable[[int], str]) -> int:
    result = conn.execute(store["legal_holds"].insert().values(
        borrowernumber=borrowernumber, reason=reason, reference=reference, placed_at=_now(), placed_by=placed_by,
        request_id=request_id,
    ))
    hold_id = int(result.inserted_primary_key[0])
    _audit(conn, store, "legal-hold-placed", {"hold_id": hold_id, "patron_hash": patron_hash(borrowernumber),
                                              "reference": reference, "request_id": request_id})
    return hold_id


def place_hold_now(store: Store, borrowernumber: int, *, reason: str, placed_by: str,
                   reference: str | None = None, request_id: str | None = None) -> int:
    """Place a legal hold in its own transaction (audited, then checkpointed)."""
    from ..audit import hashed_patron

    with store.engine.begin() as conn:
        hold_id = place_hold(conn, store, borrowernumber=borrowernumber, reason=reason, reference=reference,
                             placed_by=placed_by, request_id=request_id, patron_hash=hashed_patron)
    checkpoint(store)
    return hold_id


def release_hold(store: Store, hold_id: int, *, released_by: str) -> None:
    _finish(store, "legal_holds", "hold_id", hold_id, "released_at", {"released_by": released_by},
            what="legal hold", listing="holds list", already="was already released", kind="legal-hold-released")


def release_hold_in(conn, store: Store, hold_id: int, *, released_by: str) -> None:
    """Release an active hold in the caller's transaction (audited); refuse one already released."""
    t = store["legal_holds"]
    changed = conn.execute(t.update().where(t.c.hold_id == hold_id, t.c.released_at.is_(None))
                           .values(released_at=_now(), released_by=released_by)).rowcount
    if changed != 1:
        raise InputError(f"legal hold {hold_id} was already released (see `patronguard holds list --all`)")
    _audit(conn, store, "legal-hold-released", {"hold_id": hold_id})


def holds(store: Store, *, include_released: bool = False) -> list[dict]:
    t = store["legal_holds"]
    query = sa.select(t).order_by(t.c.hold_id)
    if not include_released:
        query = query.where(t.c.released_at.is_(None))
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
