"""Requests about many patrons at once: one decision for the set, and where it differs, for whom.

A data share for a vendor, the list of patrons with overdue items for a collection agency, a consortium
export, a law-enforcement request naming many cards, the Director's purge of a set — each is one request
(``subjects``: ids, or a scope the ILS resolves) and one :class:`BulkDecision`. Answering it patron by
patron would give contradictory results and take minutes; instead the patrons are grouped by what the
rules can see of them (:class:`PatronFacts`: a legal hold, the consent on record), the rules run once per
group, and groups that get the same answer are merged. Every patron's answer is exactly what a
single-patron request about them would get (:func:`single_request_for`; the property tests check it), so
no patron in the set gets more than they would alone.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .combine import SEVERITY
from .decide import Verifier, _authorization, access_of, decide_facts, request_facts
from .decision import Decision
from .request import AccessRequest, Subject, request_sha256
from .rules import RELEASES

if TYPE_CHECKING:
    from ..policy import LoadedPolicy

#: what a patron's recorded consent becomes in the rules' ``evidence.consent`` (``per_patron`` requests)
RECORDED_CONSENT = ("none", "signed_written")


@dataclass(frozen=True, slots=True)
class PatronFacts:
    """What the rules may know of one patron of the set: a legal hold (the store) and, for a request that
    rests on each patron's own consent, whether that consent is on record (the ILS)."""

    legal_hold: bool = False
    consent: str = "none"       # "signed_written" when the patron's consent is recorded, else "none"

    def __post_init__(self) -> None:
        if self.consent not in RECORDED_CONSENT:
            raise ValueError(f"consent: expected one of {', '.join(RECORDED_CONSENT)}, got {self.consent!r}")

    def describe(self, per_patron_consent: bool) -> str:
        parts = ["under a legal hold" if self.legal_hold else "no legal hold"]
        if per_patron_consent:
            parts.append("consent on record" if self.consent == "signed_written" else "no consent on record")
        return ", ".join(parts)


NO_FACTS = PatronFacts()


@dataclass(frozen=True, slots=True)
class BulkGroup:
    """Patrons of the set that get the same answer, the decision they get, and what sets them apart."""

    decision: Decision
    patrons: tuple[int, ...]
    facts: tuple[str, ...]      # the patron facts of this group, said plainly (e.g. "under a legal hold")

    @property
    def count(self) -> int:
        return len(self.patrons)

    def to_dict(self, *, with_patrons: bool) -> dict[str, Any]:
        d = self.decision
        out = {"count": self.count, "facts": list(self.facts), "outcome": d.outcome, "fields": list(d.fields),
               "clauses": list(d.clauses), "reason": d.reason, "deciding_rule": d.deciding_rule,
               "obligations": [o.to_dict() for o in d.obligations],
               "explanation": [e.to_dict() for e in d.applied() + [e for e in d.explanation if e.status == "note"]]}
        if with_patrons:
            out["borrowernumbers"] = list(self.patrons)
        return out


@dataclass(frozen=True, slots=True)
class BulkDecision:
    """The answer for the whole set. ``groups`` are largest first; the first is the rule for the set, the
    others are where it differs. ``outcome`` is the group's outcome when all agree; ``allow_limited`` when
    something is released for some patrons only; otherwise the strictest of the groups'."""

    outcome: str
    reason: str
    groups: tuple[BulkGroup, ...]
    action: str
    request_id: str | None
    request_sha256: str
    policy_library: str
    policy_version: str
    policy_sha256: str
    scope: str                  # "3 listed patrons" or "scope overdue_items"

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def released(self) -> tuple[int, ...]:
        """The patrons for whom something may be given (or done): what an export or a purge may include."""
        return tuple(n for g in self.groups if g.decision.outcome in RELEASES for n in g.patrons)

    @property
    def uniform(self) -> bool:
        return len(self.groups) <= 1

    def clauses(self) -> list[str]:
        return list(dict.fromkeys(c for g in self.groups for c in g.decision.clauses))

    def to_dict(self) -> dict[str, Any]:
        """The set's decision; borrowernumbers are listed for the groups that differ from the first (the
        exceptions a share or purge must leave out), never for the whole set."""
        return {
            "outcome": self.outcome, "reason": self.reason, "action": self.action, "request_id": self.request_id,
            "scope": self.scope, "patrons": self.total, "released": len(self.released), "clauses": self.clauses(),
            "policy": {"library": self.policy_library, "version": self.policy_version, "sha256": self.policy_sha256},
            "request_sha256": self.request_sha256,
            "groups": [g.to_dict(with_patrons=i > 0) for i, g in enumerate(self.groups)],
        }


def single_request_for(request: AccessRequest, borrowernumber: int, facts: PatronFacts = NO_FACTS) -> AccessRequest:
    """The single-patron request a bulk request stands for, for one patron of its set (its consent, if the
    bulk request rests on each patron's own, taken from the record)."""
    data = request.model_dump(mode="python", exclude={"subjects", "recipient"})
    data["subject"] = Subject(borrowernumber=borrowernumber)
    if request.evidence.consent == "per_patron":
        data["evidence"] = request.evidence.model_copy(update={"consent": facts.consent})
    return AccessRequest.model_validate(data, strict=False)


def _overall(groups: list[BulkGroup]) -> tuple[str, str]:
    if not groups:
        return "deny", "The request names no patron, so nothing is released."
    outcomes = {(g.decision.outcome, tuple(g.decision.fields)) for g in groups}
    first = groups[0].decision
    if len(outcomes) == 1:
        return first.outcome, first.reason
    total = sum(g.count for g in groups)
    released = sum(g.count for g in groups if g.decision.allowed)
    if released:
        return "allow_limited", (f"Something may be released for {released} of the {total} patrons named; "
                                 f"for the others the answer differs, as each group below says.")
    worst = max((g.decision.outcome for g in groups), key=SEVERITY.__getitem__)
    return worst, (f"Nothing is released for any of the {total} patrons named; the answer is {worst} "
                   f"for some of them, as each group below says.")


def decide_bulk(request: AccessRequest, loaded_policy: "LoadedPolicy",
                facts: Mapping[int, PatronFacts] | None = None, *, members: Iterable[int] | None = None,
                verify_authorization: Verifier | None = None, now: dt.datetime | None = None) -> BulkDecision:
    """Decide a request about a set of patrons. The set is the request's ``subjects.borrowernumbers``, or for a
    scope, ``members`` (the borrowernumbers the ILS resolved it to: :mod:`patronguard.ils.patron_sets`).
    ``facts``: what is known of patrons of the set (a patron missing from it has none: no hold, no consent on
    record). The written authorization is checked once, against the request as a whole."""
    if not request.is_bulk:
        raise ValueError("decide_bulk decides a request naming several patrons (subjects)")
    subjects = request.subjects
    if subjects.borrowernumbers is not None:
        members = subjects.borrowernumbers
    elif members is None:
        raise ValueError(f"the request names patrons by scope ({subjects.scope}): resolve it against the ILS "
                         "and pass members")
    access = access_of(loaded_policy)
    sha = request_sha256(request)
    verified, signer, auth_note = _authorization(request, sha, verify_authorization, now)
    base = request_facts(request, verified, signer)
    per_patron_consent = request.evidence.consent == "per_patron"

    by_facts: dict[PatronFacts, list[int]] = defaultdict(list)
    if facts:
        get = facts.get
        for n in members:
            by_facts[get(n, NO_FACTS)].append(n)
    else:
        by_facts[NO_FACTS] = list(members)

    merged: dict[tuple, list] = {}
    for profile, group in by_facts.items():
        if not group:
            continue
        seen = dict(base, **{"subject.legal_hold": profile.legal_hold})
        if per_patron_consent:
            seen["evidence.consent"] = profile.consent
        decision = decide_facts(request, loaded_policy, access, seen, sha, auth_note)
        key = (decision.outcome, tuple(decision.fields), decision.deciding_rule,
               tuple(o.code for o in decision.obligations))
        if key in merged:
            merged[key][1].extend(group)
            merged[key][2].append(profile.describe(per_patron_consent))
        else:
            merged[key] = [decision, list(group), [profile.describe(per_patron_consent)]]
    groups = sorted((BulkGroup(d, tuple(sorted(m)), tuple(f)) for d, m, f in merged.values()),
                    key=lambda g: (-g.count, SEVERITY[g.decision.outcome]))
    outcome, reason = _overall(groups)
    policy = loaded_policy
    described = (f"scope {subjects.scope}" if subjects.scope is not None
                 else f"{len(subjects.borrowernumbers)} listed patrons")
    return BulkDecision(outcome=outcome, reason=reason, groups=tuple(groups), action=request.action,
                        request_id=request.request_id, request_sha256=sha, policy_library=policy.library,
                        policy_version=policy.version, policy_sha256=policy.sha256, scope=described)
