"""The Director's purge as a gateway request: printed bound to this store, the exact scope, the cutoff it
resolves to and the mode; signed; verified against the run about to happen; used once.

``patronguard purge --scope older-than:30 [--confirm] --print-request`` prints the request with a fresh
nonce; the Director signs it (``keys sign … --scope purge``); the purge then rebuilds the request from what
it is about to do (this store, this scope, today's cutoff, ``--confirm`` or not) and the authorization's
nonce, so the signature verifies only for that run. An ``execute`` authorization also shows a dry run
without being used up; a ``dry_run`` one never executes. Each use is recorded once
(:mod:`patronguard.authz.uses`): the claim is committed under the run lock before the first ILS write.
"""
from __future__ import annotations

import datetime as dt
import secrets

from ..audit import append_event
from ..authz import (
    Use, authorization_id, authorization_verdict, prior_use, store_checker, store_identity, unbound_or_other_store,
    use_once,
)
from ..gateway import decide, parse_request
from ..policy import LoadedPolicy
from ..retention.purge import PurgeScope, now_day, parse_scope, run_purge
from ..retention.context import DEFAULT_BATCH_SIZE
from ..store import opened_store
from .authorized import PurgeRefusedError, bound_nonce, read_authorization, refuse

__all__ = [
    "PurgeRefusedError", "authorized_purge", "canonical_scope", "new_purge_request", "purge_binding", "purge_cutoff",
    "purge_mismatch", "purge_request_document", "recorded_purge",
]


def canonical_scope(scope: PurgeScope) -> str:
    return f"older-than:{scope.days}" if scope.kind == "older_than" else f"patron:{scope.borrowernumber}"


def _shown(scope_text: str | None) -> str:
    """A scope as messages and the use record may show it: never a borrowernumber."""
    if isinstance(scope_text, str) and scope_text.startswith("patron:"):
        return "one patron's reading history"
    return str(scope_text)


def purge_cutoff(scope: PurgeScope, as_of: dt.date) -> dt.date | None:
    """Rows dated before this day are purged (``older-than``); a patron's history goes whatever its age."""
    return as_of - dt.timedelta(days=scope.days) if scope.kind == "older_than" else None


def purge_binding(store_id: str, scope: PurgeScope, as_of: dt.date, *, mode: str, nonce: str | None) -> dict:
    cutoff = purge_cutoff(scope, as_of)
    return {"store_id": store_id, "nonce": nonce, "scope": canonical_scope(scope),
            "cutoff": cutoff.isoformat() if cutoff else None, "mode": mode}


def purge_request_document(scope_text: str, *, binding: dict | None = None) -> dict:
    """The request the Director signs; with ``binding`` (store, scope, cutoff, mode, nonce) it is good for one run."""
    scope = parse_scope(scope_text)
    document = {"request_id": f"purge {canonical_scope(scope)}", "action": "purge",
                "requester": {"role": "director"}, "channel": "written"}
    if scope.borrowernumber is not None:
        document["subject"] = {"borrowernumber": scope.borrowernumber}
    if binding is not None:
        document["binding"] = binding
    return document


def new_purge_request(store, loaded: LoadedPolicy, scope_text: str, *, execute: bool,
                      as_of: dt.date | None = None) -> dict:
    """What ``purge --print-request`` prints: bound to this store, scope, today's cutoff and the mode, fresh nonce."""
    scope = parse_scope(scope_text)
    binding = purge_binding(store_identity(store), scope, as_of or now_day(loaded),
                            mode="execute" if execute else "dry_run", nonce=secrets.token_hex(16))
    document = purge_request_document(scope_text, binding=binding)
    parse_request(document, "purge request")     # it must be a valid request
    return document


def purge_mismatch(signed, expected: dict) -> str | None:
    """Why an authorization bound to ``signed`` does not fit the run ``expected``; None if it does."""
    hint = ("print the request with `patronguard purge --scope SCOPE [--confirm] --print-request` and have that "
            "signed")
    why = unbound_or_other_store(signed, expected["store_id"], hint)
    if why:
        return why
    if signed.get("scope") != expected["scope"]:
        return f"signed for another scope: {_shown(signed.get('scope'))}, this purge is {_shown(expected['scope'])}"
    if signed.get("mode") == "dry_run" and expected["mode"] == "execute":
        return ("signed for a dry run only (mode dry_run); --confirm needs a request printed with --confirm "
                "(mode execute)")
    if signed.get("cutoff") != expected["cutoff"]:
        return (f"signed for cutoff {signed.get('cutoff')}, this run's cutoff is {expected['cutoff']}: the request "
                "was printed for another day; print and sign a new one")
    return None


def _purpose(scope_text: str, cutoff: str | None, confirm: bool) -> str:
    """What a purge's use of its authorization is recorded for (scope as shown, mode, cutoff)."""
    return f"purge {_shown(scope_text)} ({'execute' if confirm else 'dry run'}{f', cutoff {cutoff}' if cutoff else ''})"


def recorded_purge(ils_url: str | None, store_url: str | None, loaded: LoadedPolicy, scope_text: str,
                   authorization: dict | None, *, confirm: bool) -> dict | None:
    """A retried purge (Prefect's Retry, or the same run started again): the confirmed purge this very
    authorization already did — same store, scope, today's cutoff, execute — as its ``purge`` audit event
    recorded it, or None. The caller returns it instead of acting (the authorization is used up, the rows are
    gone): nothing is written, not even a refusal. None also when the use is recorded but its purge never
    finished (a killed run): the purge then refuses, and the next one, with a new authorization, recovers.
    A dry run under a ``dry_run`` authorization (used once) shows its plan again, reading only."""
    if not isinstance(authorization, dict):
        return None
    scope = parse_scope(scope_text)
    cutoff = purge_cutoff(scope, now_day(loaded))
    purpose = _purpose(canonical_scope(scope), cutoff.isoformat() if cutoff else None, confirm)
    aid = authorization_id(authorization)
    import json

    import sqlalchemy as sa

    with opened_store(store_url) as store:
        use = prior_use(store, authorization)
        if use is None or use["authorization_id"] != aid or use["action"] != "purge" or use["purpose"] != purpose:
            return None
        authorized_by = f"written authorization {aid[:12]} for request {use['request_sha256'][:12]}"
        t = store["audit_events"]
        with store.engine.connect() as conn:
            events = conn.execute(sa.select(t.c.kind, t.c.payload).where(t.c.kind.in_(("purge", "decision")))
                                  .order_by(t.c.seq.desc())).all()
    purge = decision = None
    for kind, text in events:
        payload = json.loads(text)
        if purge is None and kind == "purge" and payload.get("authorized_by") == authorized_by:
            purge = payload
        if decision is None and kind == "decision" and payload.get("action") == "purge" \
                and payload.get("request_sha256") == use["request_sha256"] and payload.get("outcome") != "deny":
            decision = payload
    if decision is None:
        return None
    if not confirm:     # a dry-run authorization, used up by this dry run: show its plan again (reads only)
        result = run_purge(ils_url, loaded, scope, store_url=store_url, confirm=False, authorized_by="",
                           as_of=now_day(loaded))
        return {"outcome": decision["outcome"], "dry_run": True, "plan": result["plan"], "done": {}, "batches": 0,
                "clauses": decision.get("clauses") or [], "retried": True}
    if purge is None:
        return None
    return {"outcome": decision["outcome"], "dry_run": False, "plan": {}, "done": purge.get("counts") or {},
            "batches": len(purge.get("batch_ids") or []), "clauses": decision.get("clauses") or [],
            "retried": True}


def authorized_purge(ils_url: str | None, loaded: LoadedPolicy, scope_text: str,
                     authorization_path: str | dict | None, *, store_url: str | None, confirm: bool,
                     batch_size: int = DEFAULT_BATCH_SIZE, progress=None, actor: str | None = None,
                     flow_run_id: str | None = None):
    """Ask the gateway (signature, binding and earlier uses really checked); refuse, or show/do the purge
    recording the use once. Returns (result, decision).

    ``authorization_path``: the signed authorization's file, or the signed document itself (a dict: the
    Prefect form's pasted JSON). ``actor`` and ``flow_run_id`` (who acted, in which Prefect flow run) are
    recorded in the audit events of the decision and of the purge when given."""
    scope = parse_scope(scope_text)
    if isinstance(authorization_path, dict):
        authorization = authorization_path
    else:
        authorization = read_authorization(authorization_path) if authorization_path else None
    acted = {k: v for k, v in (("actor", actor), ("flow_run_id", flow_run_id)) if v is not None}
    signed = authorization.get("binding") if authorization is not None else None
    signed = signed if isinstance(signed, dict) else None
    nonce = bound_nonce(signed)
    # a dry run may be shown under an execute authorization (without using it up); --confirm needs execute
    mode = "execute" if confirm or (signed and signed.get("mode") == "execute") else "dry_run"
    as_of = now_day(loaded)
    with opened_store(store_url) as store:
        expected = purge_binding(store_identity(store), scope, as_of, mode=mode, nonce=nonce)
        document = purge_request_document(scope_text, binding=expected if nonce else None)
        if authorization is not None:
            document["evidence"] = {"written_authorization": authorization}
        request = parse_request(document, "purge request")
        purpose = _purpose(expected["scope"], expected["cutoff"], confirm)
        checker = store_checker(store, action="purge", purpose=purpose,
                                binding_check=lambda binding: purge_mismatch(binding, expected))
        # a patron under a legal hold is not purged (Westchester §5, Westport §4): the gateway says so, with
        # the clause, before anything is planned
        held = scope.borrowernumber is not None and scope.borrowernumber in store.active_legal_holds()
        decision = decide(request, loaded, verify_authorization=checker, legal_hold=held)
        event = {"outcome": decision.outcome, "action": "purge", "clauses": decision.clauses,
                 "obligations": [o.code for o in decision.obligations], "request_sha256": decision.request_sha256,
                 "policy_version": decision.policy_version, "policy_sha256": decision.policy_sha256,
                 "requester_role": "director", "channel": "written", "mode": "execute" if confirm else "dry_run",
                 "authorization": authorization_verdict(decision), **acted}
        if not decision.allowed:
            refuse(store, event, decision, presented=authorization is not None, what="purge refused")
    verified = authorization is not None and (authorization_verdict(decision) or "").startswith("verified")
    consumed = verified and (confirm or (signed or {}).get("mode") == "dry_run")
    use = Use(authorization, "purge", purpose, decision.request_sha256, nonce=nonce) if consumed else None
    authorized_by = (f"written authorization {authorization_id(authorization)[:12]} for request "
                     f"{decision.request_sha256[:12]}" if verified else f"policy ({decision.deciding_rule})")

    def claim(run_store) -> None:
        """Under the run lock, before the first ILS write: the use and the decision, in one transaction."""
        use_once(run_store, use, lambda conn: append_event(conn, run_store["audit_events"], "decision", event),
                 refused="purge refused")

    result = run_purge(ils_url, loaded, scope, store_url=store_url, confirm=confirm, as_of=as_of, claim=claim,
                       authorized_by=authorized_by, batch_size=batch_size, progress=progress,
                       recorded=acted or None)
    result["authorization"] = {"verdict": authorization_verdict(decision), "used_up": consumed,
                               "mode": (signed or {}).get("mode")}
    return result, decision
