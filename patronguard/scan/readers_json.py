"""JSON and JSONL exports as rows of text cells, nested keys flattened with dots (``address.city``,
``phones.0``).

JSON is one document, read whole under ``PATRONGUARD_MAX_INPUT_BYTES`` with the strict decoder every
JSON file of patronguard goes through (duplicate keys, depth, NaN refused, naming the line): an array of
objects (one row each), an object holding one (``{"patrons": [...]}``), or any other object as one row.
JSONL is read line by line (each line at most that limit), so its size is unbounded; the row of a record
is its 0-based line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

from ..datafiles import MAX_DEPTH, max_input_bytes, read_limited
from ..errors import InputError
from .readers_base import CellChunk

#: the label of a record that is a bare value, not an object
VALUE_LABEL = "(value)"


def cell_text(value: Any) -> str | None:
    """A JSON value as the text of a cell: numbers as written, booleans as ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _walk(value: Any, label: str, depth: int, visit: Callable[[str, Any], Any], where: str) -> Any:
    """Apply ``visit(label, leaf)`` to every leaf of ``value`` depth-first; return the same shape rebuilt
    from what ``visit`` returns (one walker for reading and for writing a redacted copy)."""
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {key: _walk(item, f"{label}.{key}" if label else str(key), depth + 1, visit, where)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, f"{label}.{i}" if label else str(i), depth + 1, visit, where)
                for i, item in enumerate(value)]
    return visit(label or VALUE_LABEL, value)


def flatten_record(record: Any, where: str) -> dict[str, str | None]:
    """``{"a": {"b": 1}, "c": [x, y]}`` → ``{"a.b": "1", "c.0": x, "c.1": y}`` (text values)."""
    cells: dict[str, str | None] = {}

    def keep(label: str, leaf: Any) -> Any:
        cells[label] = cell_text(leaf)
        return leaf

    _walk(record, "", 0, keep, where)
    return cells


def map_record_leaves(record: Any, change: Callable[[str, Any], Any], where: str) -> Any:
    """The record with each leaf replaced by ``change(label, leaf)`` (labels as :func:`flatten_record`)."""
    return _walk(record, "", 0, change, where)


def json_rows(data: Any) -> list:
    """The rows of a JSON document: an array's items, the array an object holds as its only key, or the object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        return next(iter(data.values()))
    return [data]


def load_json_document(path: Path) -> Any:
    from ..datafiles import _load_json, _Problem   # the strict decoder all patronguard JSON goes through

    raw = read_limited(path, InputError)
    try:
        return _load_json(raw)
    except _Problem as problem:
        raise InputError(f"{path}: {problem.describe()}") from None


def iter_json(path: Path, chunk_rows: int) -> Iterator[CellChunk]:
    rows = json_rows(load_json_document(path))
    for start in range(0, len(rows), chunk_rows):
        records = [flatten_record(row, f"{path}: row {start + i}") for i, row in enumerate(rows[start:start + chunk_rows])]
        yield _chunk(path, start, records)


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    seen = dict(pairs)
    if len(seen) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"duplicate key {twice[:60]!r}")
    return seen


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_jsonl_line(raw: bytes, where: str) -> Any:
    """One JSONL record, strictly: UTF-8, no duplicate keys, no NaN, at most MAX_DEPTH levels; numbers
    kept as written (``0012`` stays text, ``1.50`` stays ``1.50``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_refuse_constant,
                          parse_int=str, parse_float=str)
    except RecursionError:
        raise InputError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON (column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def iter_jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(0-based line, parsed record) for every non-blank line, each line read within the input limit."""
    limit = max_input_bytes()
    with path.open("rb") as handle:
        line = -1
        while raw := handle.readline(limit + 1):
            line += 1
            where = f"{path}: line {line + 1}"
            if len(raw) > limit and not raw.endswith(b"\n"):
                raise InputError(f"{where}: longer than the limit of {limit:,} bytes (PATRONGUARD_MAX_INPUT_BYTES)")
            if line == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.strip():
                yield line, parse_jsonl_line(raw, where)


def iter_jsonl(path: Path, chunk_rows: int) -> Iterator[CellChunk]:
    batch: list[tuple[int, dict[str, str | None]]] = []
    for line, record in iter_jsonl_records(path):
        batch.append((line, flatten_record(record, f"{path}: line {line + 1}")))
        if len(batch) == chunk_rows:
            yield from _line_chunks(path, batch)
            batch = []
    if batch:
        yield from _line_chunks(path, batch)


def _line_chunks(path: Path, batch: list[tuple[int, dict]]) -> Iterator[CellChunk]:
    """Chunks of consecutive lines (a blank line starts a new chunk, so a row is always first_row + index)."""
    run: list[dict] = []
    first = batch[0][0]
    for line, record in batch:
        if run and line != first + len(run):
            yield _chunk(path, first, run)
            run, first = [], line
        run.append(record)
    if run:
        yield _chunk(path, first, run)


def _chunk(path: Path, first_row: int, records: list[dict[str, str | None]]) -> CellChunk:
    labels: dict[str, None] = {}
    for record in records:
        labels.update(dict.fromkeys(record))
    columns = {label: [record.get(label) for record in records] for label in labels}
    return CellChunk(file=str(path), sheet=None, first_row=first_row, columns=columns)
