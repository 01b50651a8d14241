"""Requests through the gateway, end to end: submit, decide, record.

``decide_stored`` asks the gateway with the Ed25519 signature checker wired
in, moves the request to the state its outcome calls for, opens the
decision's obligations, places a legal hold when legal process backs a
request that is not refused, and appends every step to the audit log — the
subject only ever as a keyed hash.
"""
from __future__ import annotations

import datetime as dt
import functools

from ..audit import append_event, checkpoint, hashed_patron
from ..gateway import AccessRequest, Decision, decide, parse_request, request_sha256
from ..policy import LoadedPolicy
from ..store import Store
from . import requests as wf


def signature_checker(action: str | None = None):
    """The gateway's ``verify_authorization``: real Ed25519 checks against the Director's public key."""
    from ..authz import verify_authorization

    return functools.partial(verify_authorization, action=action)


def submit(store: Store, request: AccessRequest, *, actor: str) -> str:
    return wf.receive(store, request.model_dump(mode="json"), action=request.action,
                      requester_role=request.requester.role, channel=request.channel,
                      request_sha256=request_sha256(request), actor=actor)


def decide_request(request: AccessRequest, loaded: LoadedPolicy, *, now: dt.datetime | None = None) -> Decision:
    """The gateway's answer, with written authorizations really verified."""
    return decide(request, loaded, verify_authorization=signature_checker(request.action), now=now)


def decide_stored(store: Store, request_id: str, loaded: LoadedPolicy, *, actor: str,
                  now: dt.datetime | None = None) -> Decision:
    record = wf.get_request(store, request_id)
    if record.state == "closed":
        from ..errors import InputError

        raise InputError(f"request {request_id} is closed")
    request = parse_request(record.document, f"request {request_id}")
    decision = decide_request(request, loaded, now=now)
    state = wf.STATE_AFTER[decision.outcome]
    with store.engine.begin() as conn:
        wf.move(store, request_id, state, actor=actor, outcome=decision.outcome, note=decision.reason, conn=conn)
        append_event(conn, store["audit_events"], "decision", {
            "request_id": request_id, "outcome": decision.outcome, "action": decision.action,
            "clauses": decision.clauses, "obligations": [o.code for o in decision.obligations],
            "request_sha256": decision.request_sha256, "policy_version": decision.policy_version,
            "policy_sha256": decision.policy_sha256, "requester_role": request.requester.role,
            "channel": request.channel, "legal_process": request.evidence.legal_process,
            "emergency": request.evidence.emergency,
        })
        for obligation in decision.obligations:
            wf.open_obligation(conn, store, request_id=request_id, code=obligation.code, text=obligation.text,
                               due_days=obligation.due_days)
        if request.evidence.legal_process != "none" and decision.outcome != "deny" and request.subject \
                and not _held_for(store, conn, request_id):
            wf.place_hold(conn, store, borrowernumber=request.subject.borrowernumber,
                          reason=f"legal process ({request.evidence.legal_process}) received",
                          reference=request.request_id, placed_by=actor, request_id=request_id,
                          patron_hash=hashed_patron)
    checkpoint(store)
    return decision


def _held_for(store: Store, conn, request_id: str) -> bool:
    import sqlalchemy as sa

    t = store["legal_holds"]
    return conn.execute(sa.select(sa.func.count()).select_from(t)
                        .where(t.c.request_id == request_id, t.c.released_at.is_(None))).scalar() > 0


def add_evidence(store: Store, request_id: str, *, actor: str, counsel: str | None = None,
                 authorization_path: str | None = None) -> AccessRequest:
    """Record counsel's review and/or attach a signed written authorization to a stored request.

    Counsel's review is part of what the Director's authorization signs (the Director decides on
    counsel's advice), so the stored request hash is brought up to date; the authorization itself is
    not part of the hash it is bound to.
    """
    import json

    from .purge_request import _read_authorization

    record = wf.get_request(store, request_id)
    document = dict(record.document)
    evidence = dict(document.get("evidence") or {})
    notes = []
    if counsel:
        evidence["counsel_review"] = counsel
        notes.append(f"counsel review: {counsel}")
    if authorization_path:
        evidence["written_authorization"] = _read_authorization(authorization_path)
        notes.append("written authorization attached")
    document["evidence"] = evidence
    request = parse_request(document, f"request {request_id}")
    t = store["access_requests"]
    with store.engine.begin() as conn:
        conn.execute(t.update().where(t.c.request_id == request_id).values(
            document=json.dumps(request.model_dump(mode="json")), request_sha256=request_sha256(request),
            updated_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
        state = "counsel_review" if counsel and record.state in ("received", "referred") else record.state
        wf.move(store, request_id, state, actor=actor, note="; ".join(notes), conn=conn)
    checkpoint(store)
    return request


def hold_release_request(store: Store, hold_id: int) -> dict:
    """The request the Director signs to lift legal hold ``hold_id`` (same hold, same request, same hash)."""
    from ..errors import InputError

    active = {h["hold_id"]: h for h in wf.holds(store)}
    if hold_id not in active:
        raise InputError(f"legal hold {hold_id} is not an active hold (see `patronguard holds list --all`)")
    return {"request_id": f"release legal hold {hold_id}", "action": "release_legal_hold",
            "requester": {"role": "director"}, "subject": {"borrowernumber": active[hold_id]["borrowernumber"]},
            "channel": "written"}


def release_hold_with_authorization(store: Store, hold_id: int, loaded: LoadedPolicy,
                                    authorization: dict | None) -> Decision:
    """Lift a legal hold only if the gateway verifies the Director's (or designee's) signed authorization."""
    from .purge_request import PurgeRefusedError

    document = hold_release_request(store, hold_id)
    if authorization is not None:
        document["evidence"] = {"written_authorization": authorization}
    decision = decide_request(parse_request(document, f"release of legal hold {hold_id}"), loaded)
    with store.engine.begin() as conn:
        append_event(conn, store["audit_events"], "decision", {
            "outcome": decision.outcome, "action": "release_legal_hold", "clauses": decision.clauses,
            "obligations": [o.code for o in decision.obligations], "request_sha256": decision.request_sha256,
            "policy_version": decision.policy_version, "policy_sha256": decision.policy_sha256,
            "requester_role": "director", "channel": "written", "hold_id": hold_id,
        })
    checkpoint(store)
    if not decision.allowed:
        raise PurgeRefusedError(f"legal hold {hold_id} not released: {decision.reason}")
    wf.release_hold(store, hold_id, released_by=f"written authorization {decision.request_sha256[:12]}")
    return decision
