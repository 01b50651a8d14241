"""The line a retention run reports after each batch, and how to read it back.

The engine calls its ``progress`` callback with ``"<table>: <N> rows <verb>"`` after every batch (N the
table's running total) and with a plain sentence for every other step. The CLI's progress display and the
Prefect tasks' logs both read the batch lines with :func:`parse_batch_line`; everything else is a sentence.
"""
from __future__ import annotations

import re

BATCH_LINE = re.compile(r"^(?P<table>[A-Za-z0-9_]+): (?P<rows>[0-9][0-9,]*) rows (?P<verb>[a-z ]+)$")


def batch_line(table: str, rows: int, verb: str) -> str:
    return f"{table}: {rows:,} rows {verb}"


def parse_batch_line(line: str) -> tuple[str, int, str] | None:
    """(table, running total, verb) of a batch line; None for any other line."""
    match = BATCH_LINE.match(line)
    if match is None:
        return None
    return match["table"], int(match["rows"].replace(",", "")), match["verb"]
