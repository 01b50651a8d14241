"""Read an export — CSV, TSV, JSON, JSONL, Parquet or XLSX — as chunks of text cells, streaming.

:func:`iter_cell_chunks` yields :class:`CellChunk` s of at most ``chunk_rows`` rows, so memory stays
bounded whatever the file's size (JSON, which cannot be streamed by the standard library, is read
whole within ``PATRONGUARD_MAX_INPUT_BYTES``). Every cell is given as text — a card number stored as a
number is still seen — and every row has a number by one convention per format:

* CSV, TSV, JSON, Parquet: the 0-based data row (the header is not a row);
* JSONL: the 0-based line of the file;
* XLSX: ``excel_row - 2`` (row 1 is the header), and the column label is ``Sheet!Header``.

Bad input is one line (:class:`~patronguard.errors.InputError`) naming the file, and the line or field
where that helps: an empty or binary file, an unknown extension, ragged CSV rows, JSON nested too
deeply, an encrypted workbook. A latin-1/cp1252 or BOM-encoded CSV is read correctly, not refused.
Messages never quote a cell.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .readers_base import DEFAULT_CHUNK_ROWS, FORMATS, CellChunk, check_input_file, file_format, unique_labels

__all__ = ["CellChunk", "DEFAULT_CHUNK_ROWS", "FORMATS", "check_input_file", "file_format", "iter_cell_chunks",
           "unique_labels"]


def iter_cell_chunks(path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[CellChunk]:
    """The file's cells as text, ``chunk_rows`` rows at a time (every sheet of a workbook, in order)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    kind = check_input_file(path)
    if kind in ("csv", "tsv"):
        from .readers_text import iter_delimited

        yield from iter_delimited(Path(path), chunk_rows, delimiter="," if kind == "csv" else "\t")
    elif kind in ("json", "jsonl"):
        from .readers_json import iter_json, iter_jsonl

        yield from (iter_json if kind == "json" else iter_jsonl)(Path(path), chunk_rows)
    else:
        from .readers_columnar import iter_parquet, iter_xlsx

        yield from (iter_parquet if kind == "parquet" else iter_xlsx)(Path(path), chunk_rows)
