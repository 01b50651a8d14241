"""Requests through the gateway, end to end: submit, decide, record.

``decide_stored`` asks the gateway with the store's checker wired in (Ed25519
signature against the Director's key pinned in the store, binding, earlier
uses: :mod:`patronguard.authz.uses`), moves the request to the state its
outcome calls for, opens the decision's obligations, places a legal hold when
legal process backs a request that is not refused, records the written
authorization's use, and appends every step to the audit log — the subject
only ever as a keyed hash. A legal hold is lifted only by an authorization
bound to that hold, its legal process and this store, used once.
"""
from __future__ import annotations

import datetime as dt
import functools
import secrets

from ..audit import append_event, checkpoint, hashed_patron
from ..authz import (
    Use, authorization_verdict, short, store_checker, store_identity, unbound_or_other_store, use_once,
    verify_authorization,
)
from ..gateway import AccessRequest, Decision, decide, parse_request, request_sha256
from ..policy import LoadedPolicy
from ..store import Store
from . import requests as wf
from .authorized import bound_nonce, read_authorization, refuse


def signature_checker(action: str | None = None):
    """The gateway's ``verify_authorization``: real Ed25519 checks against the Director's public key."""
    return functools.partial(verify_authorization, action=action)


def submit(store: Store, request: AccessRequest, *, actor: str) -> str:
    if request.is_bulk:
        raise InputError("a request about several patrons (subjects) is not kept in the request workflow: "
                         "decide it with `patronguard request decide --db …`; the share gate and the purge "
                         "record what they act on")
    return wf.receive(store, request.model_dump(mode="json"), action=request.action,
                      requester_role=request.requester.role, channel=request.channel,
                      request_sha256=request_sha256(request), actor=actor)


def decide_request(request: AccessRequest, loaded: LoadedPolicy, *, now: dt.datetime | None = None) -> Decision:
    """The gateway's answer, with written authorizations really verified (signature only: nothing is recorded,
    so this is a preview — ``request decide``; acting goes through :func:`decide_stored`)."""
    return decide(request, loaded, verify_authorization=signature_checker(request.action), now=now)


def _request_mismatch(signed, store_id: str) -> str | None:
    """A disclosure request's authorization may be unbound (the request came from outside); bound, it must be
    bound to this store. Either way its use is recorded against the stored request it was first used for."""
    if isinstance(signed, dict) and signed.get("store_id") != store_id:
        return f"signed for another store: store {short(signed.get('store_id'))}, this store is {short(store_id)}"
    return None


def decide_stored(store: Store, request_id: str, loaded: LoadedPolicy, *, actor: str,
                  now: dt.datetime | None = None, flow_run_id: str | None = None) -> Decision:
    """Decide a stored request; a verified written authorization is recorded as used for this request, in the
    same transaction as the decision (deciding the same request again is the same use; any other request —
    an identical one resubmitted included — is refused it). With ``flow_run_id`` (a Prefect run), the decision's
    audit event records it and the acting person.

    Retry-safe: the decision is recorded under its idempotency key (:func:`decision_key`: the request's stored
    document under this policy); deciding the same input again — a retried flow run — returns the recorded
    decision and writes nothing (no state step, obligation, hold or audit event), even once the request is
    closed. Obligations carry the key, unique per (request, decision, code)."""
    record = wf.get_request(store, request_id)
    key = decision_key(request_id, record.document, loaded.sha256)
    recorded = wf.recorded_decision(store, key)
    if recorded is not None:    # decided already, on this very input: a retry changes nothing
        return _decision_from_dict(recorded)
    if record.state == "closed":
        from ..errors import InputError

        raise InputError(f"request {request_id} is closed")
    request = parse_request(record.document, f"request {request_id}")
    authorization = request.evidence.written_authorization
    purpose = f"request {request_id}"
    use = None
    if authorization is not None:
        store_id = store_identity(store)
        checker = store_checker(store, action=request.action, purpose=purpose, repeatable=True,
                                binding_check=lambda signed: _request_mismatch(signed, store_id))
        decision = decide(request, loaded, verify_authorization=checker, now=now)
        if (authorization_verdict(decision) or "").startswith("verified"):
            binding = authorization.get("binding")
            use = Use(authorization, request.action, purpose, decision.request_sha256, repeatable=True,
                      nonce=binding.get("nonce") if isinstance(binding, dict) else None)
    else:
        decision = decide(request, loaded, now=now)
    state = wf.STATE_AFTER[decision.outcome]

    def record_decision(conn) -> None:
        # the idempotency key first: a concurrent second decision of the same input fails here, on the key
        wf.record_decision_once(conn, store, key, request_id=request_id, decision=decision.to_dict())
        wf.move(store, request_id, state, actor=actor, outcome=decision.outcome, note=decision.reason, conn=conn)
        append_event(conn, store["audit_events"], "decision", {
            "request_id": request_id, "outcome": decision.outcome, "action": decision.action,
            "clauses": decision.clauses, "obligations": [o.code for o in decision.obligations],
            "request_sha256": decision.request_sha256, "policy_version": decision.policy_version,
            "policy_sha256": decision.policy_sha256, "requester_role": request.requester.role,
            "channel": request.channel, "legal_process": request.evidence.legal_process,
            "emergency": request.evidence.emergency, "authorization": authorization_verdict(decision),
            **({"actor": actor, "flow_run_id": flow_run_id} if flow_run_id is not None else {}),
        })
        for obligation in decision.obligations:
            wf.open_obligation(conn, store, request_id=request_id, code=obligation.code, text=obligation.text,
                               due_days=obligation.due_days, decision_sha256=key)
        if request.evidence.legal_process != "none" and decision.outcome != "deny" and request.subject \
                and not _held_for(store, conn, request_id):
            wf.place_hold(conn, store, borrowernumber=request.subject.borrowernumber,
                          reason=f"legal process ({request.evidence.legal_process}) received",
                          reference=request.request_id, placed_by=actor, request_id=request_id,
                          patron_hash=hashed_patron)

    try:
        use_once(store, use, record_decision, refused=f"request {request_id} not decided")
    except Exception:
        recorded = wf.recorded_decision(store, key)
        if recorded is None:
            raise
        return _decision_from_dict(recorded)    # another run recorded this very decision at the same moment
    return decision


def decision_key(request_id: str, document: dict, policy_sha256: str) -> str:
    """The idempotency key of a stored request's decision: SHA-256 over the request id, its stored document
    (evidence and written authorization included: attaching counsel's review or an authorization is a new
    input) and the policy's SHA-256. Deciding the same input again returns the decision recorded under it."""
    import hashlib
    import json

    text = json.dumps({"request_id": request_id, "document": document, "policy_sha256": policy_sha256},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decision_from_dict(data: dict) -> Decision:
    """A recorded decision (:meth:`Decision.to_dict`) back as the gateway's :class:`Decision`."""
    from ..gateway.decision import ExplanationEntry, Obligation

    return Decision(
        outcome=data["outcome"], fields=list(data["fields"]), clauses=list(data["clauses"]),
        obligations=[Obligation(o["code"], o["text"], o.get("due_days")) for o in data["obligations"]],
        reason=data["reason"], deciding_rule=data.get("deciding_rule"), policy_library=data["policy"]["library"],
        policy_version=data["policy"]["version"], policy_sha256=data["policy"]["sha256"],
        request_sha256=data["request_sha256"], action=data["action"], request_id=data.get("request_id"),
        explanation=[ExplanationEntry(e["rule"], tuple(e["clauses"]), e["status"], e["effect"], why=e["why"])
                     for e in data.get("explanation", [])])


def _held_for(store: Store, conn, request_id: str) -> bool:
    import sqlalchemy as sa

    t = store["legal_holds"]
    return conn.execute(sa.select(sa.func.count()).select_from(t)
                        .where(t.c.request_id == request_id, t.c.released_at.is_(None))).scalar() > 0


def add_evidence(store: Store, request_id: str, *, actor: str, counsel: str | None = None,
                 authorization_path: str | None = None, handled_by: str | None = None,
                 legal_process: str | None = None) -> AccessRequest:
    """Record who now handles a stored request (the Director taking over what the desk referred), the legal
    process once established, counsel's review, and/or attach a signed written authorization.

    All but the authorization are part of what the Director's authorization signs (the Director decides,
    on counsel's advice, a request handled by the Director), so the stored request hash is brought up to
    date; the authorization itself is not part of the hash it is bound to.
    """
    import json

    record = wf.get_request(store, request_id)
    document = dict(record.document)
    evidence = dict(document.get("evidence") or {})
    notes = []
    if handled_by:
        document["handled_by"] = handled_by
        notes.append(f"handled by: {handled_by}")
    if legal_process:
        evidence["legal_process"] = legal_process
        notes.append(f"legal process: {legal_process}")
    if counsel:
        evidence["counsel_review"] = counsel
        notes.append(f"counsel review: {counsel}")
    if authorization_path:
        evidence["written_authorization"] = read_authorization(authorization_path)
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


def _active_hold(store: Store, hold_id: int) -> dict:
    from ..errors import InputError

    active = {h["hold_id"]: h for h in wf.holds(store)}
    if hold_id not in active:
        raise InputError(f"legal hold {hold_id} is not an active hold (see `patronguard holds list --all`)")
    return active[hold_id]


def _placed(value) -> str:
    """A hold's placement time to the second (MariaDB keeps no fractions)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(value, dt.datetime) else str(value)[:19]


def hold_binding(store: Store, hold: dict, nonce: str | None) -> dict:
    """A release is bound to this store, this hold, and the legal process that placed it (its request)."""
    return {"store_id": store_identity(store), "nonce": nonce, "hold_id": hold["hold_id"],
            "hold_placed_at": _placed(hold["placed_at"]), "hold_request_id": hold["request_id"],
            "hold_reference": hold["reference"]}


def _release_document(hold: dict, binding: dict | None) -> dict:
    document = {"request_id": f"release legal hold {hold['hold_id']}", "action": "release_legal_hold",
                "requester": {"role": "director"}, "subject": {"borrowernumber": hold["borrowernumber"]},
                "channel": "written"}
    if binding is not None:
        document["binding"] = binding
    return document


def hold_release_request(store: Store, hold_id: int, *, nonce: str | None = None) -> dict:
    """The request the Director signs to lift legal hold ``hold_id``: bound to this store, this hold and its
    legal process, with a fresh nonce (good for one release)."""
    hold = _active_hold(store, hold_id)
    return _release_document(hold, hold_binding(store, hold, nonce or secrets.token_hex(16)))


def _hold_mismatch(signed, expected: dict) -> str | None:
    why = unbound_or_other_store(signed, expected["store_id"], "print the request with `patronguard holds release "
                                 f"{expected['hold_id']} --print-request` and have that signed")
    if why:
        return why
    if signed.get("hold_id") != expected["hold_id"]:
        return f"signed for legal hold {signed.get('hold_id')}, not legal hold {expected['hold_id']}"
    fields = ("hold_placed_at", "hold_request_id", "hold_reference")
    if any(signed.get(f) != expected[f] for f in fields):
        def legal(b: dict) -> str:
            request = f" of request {short(b['hold_request_id'])}" if b.get("hold_request_id") else ""
            reference = f" (reference {b['hold_reference']})" if b.get("hold_reference") else ""
            return f"placed {b.get('hold_placed_at')} for the legal process{request}{reference}"
        return (f"signed for another legal hold {signed.get('hold_id')}: one {legal(signed)}; this one was "
                f"{legal(expected)}")
    return None


def release_hold_with_authorization(store: Store, hold_id: int, loaded: LoadedPolicy,
                                    authorization: dict | None) -> Decision:
    """Lift a legal hold only if the gateway verifies the Director's (or designee's) signed authorization bound
    to this hold of this store, unused: the use, the decision and the release are one store transaction."""
    hold = _active_hold(store, hold_id)
    signed = authorization.get("binding") if isinstance(authorization, dict) else None
    nonce = bound_nonce(signed)
    expected = hold_binding(store, hold, nonce)
    document = _release_document(hold, expected if nonce else None)
    if authorization is not None:
        document["evidence"] = {"written_authorization": authorization}
    purpose = f"release of legal hold {hold_id}"
    checker = store_checker(store, action="release_legal_hold", purpose=purpose,
                            binding_check=lambda binding: _hold_mismatch(binding, expected))
    decision = decide(parse_request(document, f"release of legal hold {hold_id}"), loaded,
                      verify_authorization=checker)
    event = {"outcome": decision.outcome, "action": "release_legal_hold", "clauses": decision.clauses,
             "obligations": [o.code for o in decision.obligations], "request_sha256": decision.request_sha256,
             "policy_version": decision.policy_version, "policy_sha256": decision.policy_sha256,
             "requester_role": "director", "channel": "written", "hold_id": hold_id,
             "authorization": authorization_verdict(decision)}
    if not decision.allowed:
        refuse(store, event, decision, presented=authorization is not None, what=f"legal hold {hold_id} not released")
    verified = (authorization_verdict(decision) or "").startswith("verified")
    use = Use(authorization, "release_legal_hold", purpose, decision.request_sha256, nonce=nonce) \
        if verified else None

    def release(conn) -> None:
        append_event(conn, store["audit_events"], "decision", event)
        wf.release_hold_in(conn, store, hold_id, released_by=f"written authorization {decision.request_sha256[:12]}")

    use_once(store, use, release, refused=f"legal hold {hold_id} not released")
    return decision
