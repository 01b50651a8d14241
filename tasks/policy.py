"""Retry and caching rules every patronguard task follows."""
from __future__ import annotations

from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import DisconnectionError, OperationalError

from patronguard.errors import is_transient


def retry_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry only transient errors (lost connection, lock), never bad input."""
    exc = getattr(state, "data", None)
    if not isinstance(exc, BaseException):
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - we only classify it
            exc = raised
        else:
            return False
    return is_transient(exc) or isinstance(exc, (OperationalError, DisconnectionError))


#: Options for every task that touches the ILS or patron data: nothing persisted, nothing cached.
PATRON_DATA = dict(persist_result=False, cache_policy=NO_CACHE)

#: Options for tasks doing database I/O: a few retries, transient errors only.
DATABASE_IO = dict(retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=retry_transient)
