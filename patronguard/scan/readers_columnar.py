"""Parquet (batch by batch over its row groups) and XLSX (openpyxl read-only, sheet by sheet, row by row).

Every value becomes text: Parquet columns are cast to strings by Arrow (structs flattened to
``parent.child``; lists, maps and binary written out as JSON/UTF-8); workbook numbers as written (a
card number typed into Excel is an integer, or a float with no fraction, and comes out as its digits),
dates as ISO 8601.
"""
from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from .readers_base import CellChunk, unique_labels


# ----------------------------------------------------------------------------- Parquet
def iter_parquet(path: Path, chunk_rows: int) -> Iterator[CellChunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        first_row = 0
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            table = pa.Table.from_batches([batch])
            while any(pa.types.is_struct(field.type) for field in table.schema):
                table = table.flatten()
            labels = unique_labels(table.column_names)
            columns = {label: _arrow_texts(table.column(i)) for i, label in enumerate(labels)}
            yield CellChunk(file=str(path), sheet=None, first_row=first_row, columns=columns)
            first_row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise InputError(f"{path}: not a readable Parquet file ({reason})") from None


def _arrow_texts(column) -> list[str | None]:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return [value or None for value in column.to_pylist()]
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return [None if value is None else value.decode("utf-8", "replace") for value in column.to_pylist()]
    if pa.types.is_boolean(kind):
        return [None if value is None else ("true" if value else "false") for value in column.to_pylist()]
    if pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
        return [None if value is None else _nested_text(value) for value in column.to_pylist()]
    try:
        return pc.cast(column, pa.string()).to_pylist()
    except pa.ArrowNotImplementedError:
        return [None if value is None else str(value) for value in column.to_pylist()]


def _nested_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


# ----------------------------------------------------------------------------- XLSX
def cell_text(value: Any) -> str | None:
    """A workbook cell as text: ``29470000000275.0`` → ``29470000000275``; dates ISO; empty → None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def open_workbook(path: Path):
    """The workbook, read-only (streamed); InputError for a broken or encrypted one."""
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file; one line, no values
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None


def iter_xlsx(path: Path, chunk_rows: int) -> Iterator[CellChunk]:
    from openpyxl.utils import get_column_letter

    book = open_workbook(path)
    try:
        for sheet in book.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue   # a chart sheet holds no cells
            yield from _sheet_chunks(path, sheet, chunk_rows, get_column_letter)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet part; one line, no values
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    finally:
        book.close()


def _sheet_chunks(path: Path, sheet, chunk_rows: int, letter) -> Iterator[CellChunk]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return
    names = list(header)
    labels = unique_labels([cell_text(name) or letter(i + 1) for i, name in enumerate(names)])
    buffer: list[tuple] = []
    first_row = 0          # excel row 2 is data row 0
    row_index = 0
    for row in rows:
        if len(row) > len(labels):   # cells right of the header: named by their column letter
            labels = unique_labels(labels + [letter(i + 1) for i in range(len(labels), len(row))])
        buffer.append(row)
        row_index += 1
        if len(buffer) == chunk_rows:
            yield _sheet_chunk(path, sheet.title, first_row, labels, buffer)
            first_row, buffer = row_index, []
    if buffer:
        yield _sheet_chunk(path, sheet.title, first_row, labels, buffer)


def _sheet_chunk(path: Path, title: str, first_row: int, labels: list[str], rows: list[tuple]) -> CellChunk:
    columns: dict[str, list[str | None]] = {}
    for i, label in enumerate(labels):
        columns[f"{title}!{label}"] = [cell_text(row[i]) if i < len(row) else None for row in rows]
    return CellChunk(file=str(path), sheet=title, first_row=first_row, columns=columns)
