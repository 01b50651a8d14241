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


def request_facts(request: AccessRequest, verified: bool = False, signer: str = "none") -> dict[str, Any]:
    """The facts the rules test (see ``vocabulary.FACTS``)."""
    ev = request.evidence
    subject = request.subject
    return {
        "action": request.action,
        "channel": request.channel,
        "requester.role": request.requester.role,
        "requester.is_subject": subject is not None and request.requester.borrowernumber == subject.borrowernumber,
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


def decide(request: AccessRequest, loaded_policy: "LoadedPolicy", *,
           verify_authorization: Verifier | None = None, now: dt.datetime | None = None) -> Decision:
    """Decide ``request`` under ``loaded_policy``; never raises for a deny."""
    policy = loaded_policy.policy
    access = policy.access
    if access is None:
        raise PolicyError(f"{loaded_policy.path}: access: this policy has no access rules; "
                          "add an access section (the gateway never falls back to a default policy)")
    compiled = access.compiled
    cite = compiled.cites
    rule_cites = compiled.rule_cites
    sha = request_sha256(request)
    verified, signer, auth_note = _authorization(request, sha, verify_authorization, now)
    facts = request_facts(request, verified, signer)

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
