"""One exception hierarchy for patronguard.

Every error the pipeline raises on purpose is a :class:`PatronguardError`,
either *transient* (worth retrying: a dropped connection, a locked database)
or *terminal* (retrying cannot help: bad input, a malformed policy, a
database that is not Koha-shaped). Prefect tasks retry only transient ones;
the CLI turns any of them into one line on stderr and a non-zero exit.

Messages never carry patron values: they name files, fields, tables and
columns, and show masked previews at most.
"""
from __future__ import annotations


class PatronguardError(Exception):
    """Base class. ``transient`` says whether retrying may succeed."""

    transient: bool = False
    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class TerminalError(PatronguardError):
    """Retrying will not help: the input or the configuration must change."""

    transient = False


class TransientError(PatronguardError):
    """May succeed if tried again (network blip, lock, server restart)."""

    transient = True
    exit_code = 3


class InputError(TerminalError):
    """A command-line value or request file is invalid."""


class PolicyError(TerminalError):
    """A policy file is missing, malformed or inconsistent with the PII map."""


class PiiMapError(TerminalError):
    """The PII map of an ILS is malformed."""


class DatabaseUrlError(TerminalError):
    """A database URL has an unsupported scheme or cannot be parsed."""


class NotKohaShapedError(TerminalError):
    """The connected database lacks a table or column the PII map requires."""


class UnsupportedReleaseError(NotKohaShapedError):
    """The connected Koha is of a release line patronguard has no facts for."""


class UnmappedPatronDataError(TerminalError):
    """The ILS holds patron data in a table or column no PII map (and no out-of-scope entry) covers."""


class RunPlanError(TerminalError):
    """The retention run cannot be planned against the columns this database has; nothing was written."""


class IlsAlreadyInitialisedError(TerminalError):
    """``ils init`` found Koha tables already present."""


class ValidationFailedError(TerminalError):
    """A Great Expectations suite failed on the data."""


class DatabaseUnavailableError(TransientError):
    """The database could not be reached or dropped the connection."""


def is_transient(exc: BaseException) -> bool:
    """True if ``exc`` is worth retrying (used by Prefect retry conditions)."""
    return isinstance(exc, PatronguardError) and exc.transient
