"""Shared builders for the gateway tests of both policies."""
from __future__ import annotations

from patronguard.gateway import parse_request

PATRON = {"role": "patron", "borrowernumber": 4211}
GUARDIAN = {"role": "guardian", "borrowernumber": 5120}


def req(action="list_checkouts", requester=PATRON, channel="in_person", fields=("titles", "due_dates"),
        subject=4211, handled_by=None, **evidence):
    data = {"action": action, "requester": requester, "channel": channel, "evidence": evidence}
    if handled_by is not None:
        data["handled_by"] = handled_by
    if subject is not None:
        data["subject"] = {"borrowernumber": subject}
    if fields:
        data["fields"] = list(fields)
    return parse_request(data)


def signature_double(signer="director"):
    """Test double for the injected Ed25519 checker (the real one is tested in test_authz.py and
    test_workflow.py): valid iff bound to this request and marked valid."""
    def verify(authorization, sha, now):
        ok = authorization.get("request_sha256") == sha and authorization.get("valid") is True
        return ok, "test signature ok" if ok else "test signature mismatch", signer if ok else None
    return verify
