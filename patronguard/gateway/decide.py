"""``decide()``: one request, one loaded policy → a Decision with its explanation.

The written authorization is checked by an injected verifier (the Ed25519
checker); without one, an authorization is *never* taken as verified.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable

from ..errors import PolicyError
from .combine import combine
from .conditions import why_not
from .decision import Decision, ExplanationEntry, Obligation
from .request import AccessRequest, request_sha256
from .rules import RELEASES

if TYPE_CHECKING:  # imported lazily: patronguard.policy imports this package's models
    from ..policy import LoadedPolicy

Verifier = Callable[[dict, str, dt.datetime], "tuple[bool, str, str | None]"]
SIGNERS = ("director", "designee")


def _authorization(request: AccessRequest, sha: str, verify: Verifier | None,
                   now: dt.datetime | None) -> tuple[bool, str, ExplanationEntry | None]:
    auth = request.evidence.written_authorization
    if auth is None:
        return False, "none", None
    if verify is None:
        return False, "none", ExplanationEntry(
            "written_authorization", (), "note", None,
            why="a written authorization was presented but no signature checker was given, "
                "so it is not verified and counts for nothing")
    valid, reason, signer = verify(auth, sha, now or dt.datetime.now(dt.timezone.utc))
    if valid and signer in SIGNERS:
        return True, signer, ExplanationEntry(
            "written_authorization", (), "note", None, why=f"verified: signed by the {signer} ({reason})")
    if valid:
        reason = f"signer role {signer!r} is neither director nor designee"
    return False, "none", ExplanationEntry("written_authorization", (), "note", None,
                                           why=f"not verified: {reason}")


def request_facts(request: AccessRequest, verified: bool = False, signer: str = "none", *,
                  legal_hold: bool = False) -> dict[str, Any]:
    """The facts the rules test (see ``vocabulary.FACTS``). ``legal_hold``: the subject's records are under a
    legal hold (known from the store; a request about several patrons is decided per group of patrons)."""
    ev = request.evidence
    subject = request.subject
    return {
        "action": request.action,
        "channel": request.channel,
        "handled_by": request.handler,
        "requester.role": request.requester.role,
        "requester.is_subject": subject is not None and request.requester.borrowernumber == subject.borrowernumber,
        "subject.legal_hold": legal_hold,
        "evidence.identification": ev.identification,
        "evidence.barcode": ev.barcode,
        "evidence.financial_responsibility": ev.financial_responsibility,
        "evidence.authenticated": ev.authenticated,
        "evidence.consent": ev.consent,
        "evidence.legal_process": ev.legal_process,
        "evidence.counsel_review": ev.counsel_review,
        "evidence.emergency": ev.emergency,
        "evidence.authorized_staff": ev.authorized_staff,
        "evidence.duty": ev.duty,
        "evidence.board_resolution": ev.board_resolution,
        "evidence.written_authorization": ev.written_authorization is not None,
        "authorization.verified": verified,
        "authorization.signer_role": signer,
    }


def access_of(loaded_policy: "LoadedPolicy"):
    access = loaded_policy.policy.access
    if access is None:
        raise PolicyError(f"{loaded_policy.path}: access: this policy has no access rules; "
                          "add an access section (the gateway never falls back to a default policy)")
    return access


def decide(request: AccessRequest, loaded_policy: "LoadedPolicy", *,
           verify_authorization: Verifier | None = None, now: dt.datetime | None = None,
           legal_hold: bool = False) -> Decision:
    """Decide ``request`` under ``loaded_policy``; never raises for a deny. ``legal_hold``: the subject's
    records are under a legal hold (the caller knows it from the store). A request naming several patrons
    is decided by :func:`patronguard.gateway.decide_bulk`."""
    if request.is_bulk:
        raise PolicyError("this request names several patrons (subjects): decide it with decide_bulk, "
                          "which resolves the set and says for which patrons the answer differs")
    access = access_of(loaded_policy)
    sha = request_sha256(request)
    verified, signer, auth_note = _authorization(request, sha, verify_authorization, now)
    facts = request_facts(request, verified, signer, legal_hold=legal_hold)
    return decide_facts(request, loaded_policy, access, facts, sha, auth_note)


def decide_facts(request: AccessRequest, loaded_policy: "LoadedPolicy", access, facts: dict[str, Any],
                 sha: str, auth_note: ExplanationEntry | None) -> Decision:
    """The rules applied to facts already worked out (the single-patron path and each group of a bulk request)."""
    compiled = access.compiled
    cite = compiled.cites
    rule_cites = compiled.rule_cites
    handler_note = None
    if request.handled_by is None and any("handled_by" in cr.facts for cr in compiled.by_action[request.action]):
        handler_note = ExplanationEntry("handled_by", (), "note", None,
                                        why="the request does not say who is handling it, so it is taken as "
                                            "handled at the desk (the least authority)")

    explanation: list[ExplanationEntry] = []
    applying = []
    action = request.action
    for cr in compiled.rules:
        rule = cr.rule
        cites = rule_cites[rule.id]
        if action not in cr.actions:
            explanation.append(ExplanationEntry(rule.id, cites, "not_applicable", None, why=cr.not_applicable))
            continue
        if not cr.target(facts):
            explanation.append(ExplanationEntry(rule.id, cites, "not_applicable", None,
                                                lazy=lambda c=rule.when: "not applicable: " + why_not(c, facts)))
            continue
        if cr.require is None or cr.require(facts):
            branch = rule.then
            status = "met"
            lazy = (lambda r=rule: f"applies; requirements met ({r.require.describe()})") if rule.require else None
            why = None if rule.require else "applies"
        else:
            branch = rule.otherwise
            status = "not_met"
            why = None
            lazy = lambda r=rule: "applies; " + why_not(r.require, facts)
        if branch.note:
            inner_note = lazy
            base_note = why
            lazy = (lambda i=inner_note, b=base_note, n=branch.note: f"{i() if i else b}; {n}")
            why = None
        if rule.stricter_than:
            stricter = ", ".join(cite[c] for c in rule.stricter_than)
            inner = lazy
            base = why
            lazy = (lambda i=inner, b=base, s=stricter:
                    f"{i() if i else b}; reads more strictly than {s}, and the stricter reading governs")
            why = None
        applying.append((rule, branch))
        explanation.append(ExplanationEntry(rule.id, cites, status, branch.outcome, why=why, lazy=lazy))
    if auth_note is not None:
        explanation.append(auth_note)
    if handler_note is not None:
        explanation.append(handler_note)

    result = combine(tuple(request.fields), applying, access.default)
    released = result.outcome in RELEASES

    cited: dict[str, None] = {}
    if result.deciding is not None:
        cited.update(dict.fromkeys(result.deciding.clauses))
    for rule, _branch in result.branches:
        cited.update(dict.fromkeys(rule.clauses))
        cited.update(dict.fromkeys(rule.stricter_than))
    for f in request.fields:
        cited.update(dict.fromkeys(compiled.record_clauses[f]))

    obligations: dict[str, Obligation] = {}
    for _rule, branch in result.branches:
        for ob in branch.obligations:
            if ob.code in obligations:
                continue
            if (ob.applies == "always" or (ob.applies == "release" and released)
                    or (ob.applies == "decision" and branch.outcome == result.outcome)):
                obligations[ob.code] = Obligation(ob.code, ob.text, ob.due_days)

    return Decision(
        outcome=result.outcome,
        fields=list(result.fields),
        clauses=[cite[c] for c in cited],
        obligations=list(obligations.values()),
        reason=result.reason,
        deciding_rule=result.deciding.id if result.deciding is not None else None,
        policy_library=loaded_policy.library,
        policy_version=loaded_policy.version,
        policy_sha256=loaded_policy.sha256,
        request_sha256=sha,
        action=request.action,
        request_id=request.request_id,
        explanation=explanation,
    )
