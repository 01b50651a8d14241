"""The gateway first: a share is a request (a JSON file) decided under the policy before anything is read.

A data share to a vendor, a consortium or an agency is a request about many patrons (``subjects`` and a
``recipient``: :func:`~patronguard.workflow.bulk.decide_bulk_request`, scopes resolved against the ILS,
holds from the store, consent from the ILS); de-identified counts are an ``anonymised_statistics``
request, whose requester receives them (:func:`~patronguard.workflow.service.decide_request`, written
authorizations verified by signature). The recipient the request names must be the one the file goes to.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..gateway import AccessRequest, load_request, request_sha256
from ..gateway.vocabulary import DATA_ACTIONS
from ..policy import LoadedPolicy

#: the record fields that say nothing about a patron: a share of these only may hold no patron data at all
AGGREGATE_FIELDS = frozenset({"aggregate_counts"})
#: the record field a scanner finding is part of: every entity it finds (a card, a name, an email, a phone, an
#: address, a birth date) identifies a patron — Westchester §1(b) "by name, address, telephone number, email
#: address, or any other similar manner". A share whose decision does not release ``identity`` (loan history
#: alone, fines alone) must therefore carry none of them, whoever they belong to.
IDENTITY_FIELD = "identity"
#: a recipient's name is a folder of the share folder: a plain, short name
RECIPIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


@dataclass(frozen=True, slots=True)
class ShareDecision:
    """What the gateway allows this share: whether anything may go, which fields, for which patrons.

    ``released_patrons`` is None when the decision releases no patron's identity (counts only, or other fields
    only: any finding blocks); else the borrowernumbers whose identity it releases (a finding attributable only
    to them is allowed).
    """

    allowed: bool
    outcome: str
    reason: str
    clauses: tuple[str, ...]
    fields: tuple[str, ...]
    released_patrons: frozenset[int] | None
    request_sha256: str
    request_id: str | None
    action: str
    recipient: str
    policy_version: str
    policy_sha256: str
    patrons_named: int = 0
    refused_by: str = "gateway"          # "gateway" or "recipient" (the request names someone else)

    @property
    def patron_fields(self) -> bool:
        return self.released_patrons is not None

    def to_dict(self) -> dict:
        """For reports, records and the audit log: counts, never borrowernumbers."""
        return {"allowed": self.allowed, "outcome": self.outcome, "reason": self.reason,
                "clauses": list(self.clauses), "fields": list(self.fields), "action": self.action,
                "request_id": self.request_id, "request_sha256": self.request_sha256, "recipient": self.recipient,
                "policy_version": self.policy_version, "policy_sha256": self.policy_sha256,
                "patrons_named": self.patrons_named,
                "patrons_released": len(self.released_patrons) if self.released_patrons is not None else 0}


def check_recipient_name(to: str) -> str:
    if not isinstance(to, str) or not RECIPIENT_NAME.match(to):
        raise InputError(f"--to: {str(to)[:40]!r} is not a recipient name (letters, digits, '.', '_', '-'; "
                         "at most 120; it names the recipient's folder of the share folder)")
    return to


def load_share_request(path: str | Path) -> AccessRequest:
    """The request file (the gateway's format: docs/requests.md); a data action, or it is not a share."""
    request = load_request(path)
    if request.action not in DATA_ACTIONS:
        raise InputError(f"{path}: action {request.action!r} gives no data; a share is a request such as "
                         "disclose_records (with subjects and recipient) or anonymised_statistics")
    return request


def request_recipient(request: AccessRequest) -> str | None:
    """Who receives the data: the recipient of a request about several patrons, else the requester."""
    if request.recipient is not None:
        return request.recipient.id
    return request.requester.id


def decide_share(request: AccessRequest, loaded: LoadedPolicy, *, to: str, ils_url: str | None,
                 store_url: str | None, consent_type: str | None = None,
                 now: dt.datetime | None = None) -> ShareDecision:
    """The gateway's answer to this share; refused (``allowed`` False) when the request names another recipient."""
    to = check_recipient_name(to)
    sha = request_sha256(request)
    named = request_recipient(request)
    common = dict(request_sha256=sha, request_id=request.request_id, action=request.action, recipient=to,
                  policy_version=loaded.version, policy_sha256=loaded.sha256)
    if named != to:
        shown = repr(named) if named else "no recipient (requester.id)"
        return ShareDecision(allowed=False, outcome="deny", clauses=(), fields=(), released_patrons=None,
                             reason=f"The request names {shown} as the recipient, not {to!r}: the file goes "
                                    "only to the recipient the decision is about.",
                             refused_by="recipient", **common)
    if request.is_bulk:
        from ..workflow.bulk import decide_bulk_request

        bulk = decide_bulk_request(request, loaded, ils_url=ils_url, store_url=store_url,
                                   consent_type=consent_type, now=now)
        releasing = [g for g in bulk.groups if g.decision.allowed]
        fields = tuple(dict.fromkeys(f for g in releasing for f in g.decision.fields))
        identified = frozenset(n for g in releasing if IDENTITY_FIELD in g.decision.fields for n in g.patrons)
        return ShareDecision(
            allowed=bool(bulk.released), outcome=bulk.outcome, reason=bulk.reason, clauses=tuple(bulk.clauses()),
            fields=fields, released_patrons=identified if identified else None,
            patrons_named=bulk.total, **common)
    if consent_type:
        raise InputError("--consent-type: only for a request about several patrons (subjects)")
    from ..workflow.service import decide_request

    decision = decide_request(request, loaded, now=now)
    fields = tuple(decision.fields) if decision.allowed else ()
    subject = request.subject.borrowernumber if request.subject is not None else None
    identity = IDENTITY_FIELD in fields
    released = frozenset({subject} if subject is not None else ()) if identity else None
    return ShareDecision(
        allowed=decision.allowed, outcome=decision.outcome, reason=decision.reason, clauses=tuple(decision.clauses),
        fields=fields, released_patrons=released, patrons_named=1 if subject is not None else 0, **common)
