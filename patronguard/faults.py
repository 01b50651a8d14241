"""Fault injection for the crash-safety tests: kill this process at a named point.

Set ``PATRONGUARD_FAULT=<point>:<n>`` to SIGKILL the process the n-th time it
reaches ``point``. Points in the retention run:

* ``after-prepare``     the ledger has prepared a batch; the ILS transaction is still open
* ``after-ils-commit``  the ILS committed the batch; the ledger has not completed it

Unset (always, outside the tests), :func:`reach` costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def reach(point: str) -> None:
    spec = os.environ.get("PATRONGUARD_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
