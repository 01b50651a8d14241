"""The Director's purge as a gateway request: built from its scope, signed, verified, then done."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError, TerminalError
from ..gateway import parse_request
from ..policy import LoadedPolicy
from ..retention.purge import parse_scope, run_purge


class PurgeRefusedError(TerminalError):
    """The gateway refused a Director's act (purge, hold release): no valid written authorization, out of scope …"""


def purge_request_document(scope_text: str) -> dict:
    """The request the Director signs: the same scope always gives the same request (and hash)."""
    scope = parse_scope(scope_text)
    document = {"request_id": f"purge {scope_text}", "action": "purge", "requester": {"role": "director"},
                "channel": "written"}
    if scope.borrowernumber is not None:
        document["subject"] = {"borrowernumber": scope.borrowernumber}
    return document


def _read_authorization(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"--authorization: {path}: file not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"--authorization: {path}: not a JSON authorization ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"--authorization: {path}: expected a JSON object")
    return data


def authorized_purge(ils_url: str | None, loaded: LoadedPolicy, scope_text: str, authorization_path: str | None,
                     *, store_url: str | None, confirm: bool, batch_size: int = 20_000, progress=None):
    """Ask the gateway (signature really verified); refuse or show/do the purge. Returns (result, decision)."""
    from ..audit import append_event, checkpoint
    from ..store import opened_store
    from .service import decide_request

    document = purge_request_document(scope_text)
    if authorization_path:
        document["evidence"] = {"written_authorization": _read_authorization(authorization_path)}
    request = parse_request(document, "purge request")
    decision = decide_request(request, loaded)
    with opened_store(store_url) as store:
        with store.engine.begin() as conn:
            append_event(conn, store["audit_events"], "decision", {
                "outcome": decision.outcome, "action": "purge", "clauses": decision.clauses,
                "obligations": [o.code for o in decision.obligations], "request_sha256": decision.request_sha256,
                "policy_version": decision.policy_version, "policy_sha256": decision.policy_sha256,
                "requester_role": "director", "channel": "written",
            })
        checkpoint(store)
    if not decision.allowed:
        raise PurgeRefusedError(f"purge refused: {decision.reason}")
    result = run_purge(ils_url, loaded, parse_scope(scope_text), store_url=store_url, confirm=confirm,
                       authorized_by=f"written authorization {decision.request_sha256[:12]}",
                       batch_size=batch_size, progress=progress)
    return result, decision
