"""The audit log's errors (shared by the log, its checkpoints, its pin and its witnesses)."""
from __future__ import annotations

from ..errors import TerminalError, TransientError


class AuditLogTamperedError(TerminalError):
    """``audit verify`` found an edited, deleted, reordered, forged or truncated entry, or an altered anchor."""

    exit_code = 1


class AuditLogError(TerminalError):
    """The audit log cannot be checked (missing identity, unreadable checkpoint file)."""


class WitnessUnavailableError(TransientError):
    """An external witness of the audit log (the Prefect API) is configured but could not be reached."""


class WitnessRequiredError(AuditLogError):
    """``audit verify --require-witness`` found no external witness it could check."""

    exit_code = 1
