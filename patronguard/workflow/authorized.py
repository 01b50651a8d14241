"""What the Director's authorized acts share — a purge (:mod:`.purge_request`), a legal hold's release and a
stored request's decision (:mod:`.service`): the signed authorization read from its file, the nonce its
binding carries, and a refusal that is recorded in the audit log before it is raised.
"""
from __future__ import annotations

import re
from typing import NoReturn

from ..audit import append_event, checkpoint
from ..authz import refusal_reason
from ..datafiles import read_json_object
from ..errors import TerminalError

NONCE = re.compile(r"^[0-9a-f]{32}$")


class PurgeRefusedError(TerminalError):
    """The gateway refused a Director's act (purge, hold release): no valid written authorization, out of scope,
    bound to another run, already used … (the message says which)."""

    exit_code = 1

    def __init__(self, message: str, *, decision=None, reason: str | None = None) -> None:
        super().__init__(message)
        self.decision = decision
        self.reason = reason or message


def read_authorization(path: str) -> dict:
    """The signed authorization named by ``--authorization`` (read with the limits of every file read)."""
    return read_json_object(path, "--authorization")


def bound_nonce(signed) -> str | None:
    """The nonce of an authorization's signed binding, if it carries a well-formed one."""
    if isinstance(signed, dict) and isinstance(signed.get("nonce"), str) and NONCE.match(signed["nonce"]):
        return signed["nonce"]
    return None


def refuse(store, event: dict, decision, *, presented: bool, what: str) -> NoReturn:
    """Record the refused ``decision`` (``event``) in the audit log and anchor it, then raise
    :class:`PurgeRefusedError` ``"{what}: {reason}"``; ``presented``: whether an authorization was given."""
    with store.engine.begin() as conn:
        append_event(conn, store["audit_events"], "decision", event)
    checkpoint(store)
    reason = refusal_reason(decision, presented)
    raise PurgeRefusedError(f"{what}: {reason}", decision=decision, reason=reason)
