"""The run forms of the flows: typed pydantic parameters with titles and descriptions (Prefect renders them as
forms), and where a flow finds its databases — never in a parameter.

Flow parameters are shown in the Prefect UI and stored in Prefect's database, so a database URL (which may carry
a password) is never one. A flow finds its databases in the worker's environment (``PATRONGUARD_ILS_URL``,
``PATRONGUARD_STORE_URL``: :mod:`patronguard.settings`) or, when the run form names one, in a Prefect ``Secret``
block holding the URL: a block's *name* is not secret, its value is kept by Prefect as a secret. URLs are only
ever logged masked (:func:`patronguard.db.masked`).
"""
from __future__ import annotations

import json
import logging
import os
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from patronguard import settings
from patronguard.db import masked
from patronguard.errors import InputError

BLOCK_NAME = r"^(?:[a-z0-9-]{1,100})?$"   # empty: none


class Connections(BaseModel):
    """Where the run finds its databases: names of Prefect Secret blocks, or nothing (the worker's environment)."""

    model_config = ConfigDict(extra="forbid", title="Databases")

    ils_secret: str = Field(
        "", title="ILS database: Secret block", pattern=BLOCK_NAME,
        description="Name of a Prefect Secret block whose value is the ILS database URL. Leave empty to use the "
                    "worker's PATRONGUARD_ILS_URL. Never type a URL here: parameters are stored by Prefect.")
    store_secret: str = Field(
        "", title="patronguard store: Secret block", pattern=BLOCK_NAME,
        description="Name of a Prefect Secret block whose value is the patronguard store URL. Leave empty to use "
                    "the worker's PATRONGUARD_STORE_URL.")

    def ils_url(self) -> str:
        return _resolve(self.ils_secret, settings.ils_url, "ILS", "PATRONGUARD_ILS_URL")

    def store_url(self) -> str:
        return _resolve(self.store_secret, settings.store_url, "store", "PATRONGUARD_STORE_URL")


def _resolve(block: str, from_environment, what: str, variable: str) -> str:
    from prefect import get_run_logger

    if block:
        from prefect.blocks.system import Secret

        try:
            value = Secret.load(block).get()
        except ValueError as exc:  # no such block
            raise InputError(f"{what} database: no Prefect Secret block named {block!r} ({exc})") from None
        if not isinstance(value, str) or not value:
            raise InputError(f"{what} database: the Secret block {block!r} does not hold a URL")
        source = f"Prefect Secret block {block!r}"
    else:
        value = from_environment()
        source = f"the worker's {variable}" if os.environ.get(variable) else "patronguard's default"
    try:
        get_run_logger().info("%s database: %s (%s)", what, masked(value), source)
    except Exception:  # noqa: BLE001 - outside a run context there is no run logger
        pass
    return value


class OlderThan(BaseModel):
    """Everything the retention schedule covers that is older than a number of days."""

    model_config = ConfigDict(extra="forbid", title="Everything older than N days")

    kind: Literal["older-than"] = Field("older-than", title="Kind", description="older-than: purge by age")
    days: int = Field(ge=0, le=99999, title="Days",
                      description="Rows older than this many days (counted from today, in the library's time "
                                  "zone) are purged; each record class keeps min(its period, days).")

    def text(self) -> str:
        return f"older-than:{self.days}"


class OnePatron(BaseModel):
    """One patron's reading history, at that patron's request."""

    model_config = ConfigDict(extra="forbid", title="One patron's reading history")

    kind: Literal["patron"] = Field("patron", title="Kind",
                                    description="patron: purge one patron's reading history")
    borrowernumber: int = Field(ge=1, le=999999999999, title="Borrowernumber",
                                description="The patron's borrowernumber in the ILS (never shown in the audit "
                                            "log: it records a keyed hash).")

    def text(self) -> str:
        return f"patron:{self.borrowernumber}"


#: A choice of the two (the UI renders ``anyOf`` as a choice; ``extra="forbid"`` keeps them apart).
PurgeScopeChoice = Union[OlderThan, OnePatron]


def signed_document(value: dict | str | None) -> dict | None:
    """The signed authorization as pasted in the form: a JSON object, or its text."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"authorization: not a JSON document ({exc.msg} at line {exc.lineno}); paste the "
                             "whole file `patronguard keys sign` wrote") from None
    if not isinstance(value, dict):
        raise InputError("authorization: expected the signed JSON object `patronguard keys sign` wrote")
    return value


def flow_run_id() -> str | None:
    """The Prefect flow run's id (recorded in the audit event with the acting person)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


#: How the state message of a run a flow ended on purpose (a refusal) begins.
REFUSAL_PREFIXES = ("purge refused",)


class _NoTracebackForRefusals(logging.Filter):
    """A worker's flow engine re-raises the Failed state a flow returned and logs it as an "unexpected exception"
    with a traceback; a refusal is not one: its one-line state message and artifact say everything."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or type(exc).__name__ != "FailedRun":
            return True
        return not str(exc).startswith(REFUSAL_PREFIXES)


def quiet_refusal_tracebacks() -> None:
    """Install the filter on Prefect's flow-run logger (once)."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, _NoTracebackForRefusals) for f in logger.filters):
        logger.addFilter(_NoTracebackForRefusals())
