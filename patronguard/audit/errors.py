"""The audit log's errors (shared by the log, its checkpoints and its pin)."""
from __future__ import annotations

from ..errors import TerminalError


class AuditLogTamperedError(TerminalError):
    """``audit verify`` found an edited, deleted, reordered, forged or truncated entry, or an altered anchor."""

    exit_code = 1


class AuditLogError(TerminalError):
    """The audit log cannot be checked (missing identity, unreadable checkpoint file)."""
