"""Redacted copies: each finding replaced by ``<ENTITY>`` with Presidio's anonymizer, in the file's own format.

:class:`RedactionPlan` keeps, per file, the spans found in each cell (row, column label → spans) — in
memory only. :func:`write_redacted_copy` reads the file again chunk by chunk and writes a copy of it
into the output folder (CSV/TSV/JSONL/JSON/Parquet/XLSX; JSON and JSONL keep their nesting, the other
formats are written as text cells under the same headers), through a temporary file put in place only
when complete. Presidio's ``AnonymizerEngine`` does the replacing (overlapping findings merged as
Presidio merges them); the caller scans the copy again before it may go.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .readers import check_input_file, iter_cell_chunks
from .readers_base import CellChunk
from .report import FindingRecord

Span = tuple[int, int, str, float]     # start, end, entity, score


class RedactionPlan:
    """Where each file's findings are: file → (row, column label) → spans."""

    def __init__(self) -> None:
        self.spans: dict[str, dict[tuple[int, str], list[Span]]] = defaultdict(lambda: defaultdict(list))

    def add(self, records: list[FindingRecord]) -> None:
        for r in records:
            self.spans[r.file][(r.row, r.column)].append((r.start, r.end, r.entity, r.score))

    def of(self, file: str) -> dict[tuple[int, str], list[Span]]:
        return self.spans.get(file, {})


class Redactor:
    """Presidio's anonymizer with one operator: ``replace`` (``<ENTITY>``)."""

    def __init__(self) -> None:
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        self.engine = AnonymizerEngine()
        self.operators = {"DEFAULT": OperatorConfig("replace")}

    def redact(self, text: str, spans: list[Span]) -> str:
        from presidio_anonymizer.entities import RecognizerResult

        results = [RecognizerResult(entity, start, end, score) for start, end, entity, score in spans]
        return self.engine.anonymize(text, results, operators=self.operators).text


def redacted_path(path: str | Path, out_dir: str | Path) -> Path:
    return Path(out_dir) / Path(path).name


def write_redacted_copy(path: str | Path, out_dir: str | Path, spans: dict[tuple[int, str], list[Span]],
                        redactor: Redactor, chunk_rows: int) -> Path:
    """Write ``out_dir/<name>``: ``path`` with every span replaced; return the copy's path."""
    path = Path(path)
    kind = check_input_file(path)
    target = redacted_path(path, out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = {"csv": _write_delimited, "tsv": _write_delimited, "jsonl": _write_jsonl, "json": _write_json,
              "parquet": _write_parquet, "xlsx": _write_xlsx}[kind]
    with _replaced_on_success(target) as temp:
        writer(path, temp, spans, redactor, chunk_rows, kind)
    return target


@contextmanager
def _replaced_on_success(target: Path) -> Iterator[Path]:
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temp)
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)


def _redacted_columns(chunk: CellChunk, spans, redactor: Redactor) -> dict[str, list[str | None]]:
    columns = {}
    for label, values in chunk.columns.items():
        out = list(values)
        for i, value in enumerate(values):
            found = spans.get((chunk.first_row + i, label))
            if found and value:
                out[i] = redactor.redact(value, found)
        columns[label] = out
    return columns


def _write_delimited(path, temp, spans, redactor, chunk_rows, kind) -> None:
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        # TSV is read without quoting (a cell never holds a tab or a line break), so it is written so too
        writer = (csv.writer(handle) if kind == "csv" else
                  csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n"))
        header_written = False
        for chunk in iter_cell_chunks(path, chunk_rows):
            columns = _redacted_columns(chunk, spans, redactor)
            if not header_written:
                writer.writerow(list(columns))
                header_written = True
            writer.writerows(zip(*(["" if v is None else v for v in values] for values in columns.values())))
        if not header_written:
            from .readers_text import detect_encoding, read_header

            writer.writerow(read_header(path, detect_encoding(path), "," if kind == "csv" else "\t"))


def _leaf_redactor(row: int, spans, redactor: Redactor):
    from .readers_json import cell_text

    def change(label: str, leaf: Any) -> Any:
        found = spans.get((row, label))
        text = cell_text(leaf)
        return redactor.redact(text, found) if found and text else leaf

    return change


def _write_jsonl(path, temp, spans, redactor, chunk_rows, kind) -> None:
    from .readers_json import iter_jsonl_records, map_record_leaves

    lines_written = 0
    with open(temp, "w", encoding="utf-8") as handle:
        for line, record in iter_jsonl_records(path):
            handle.write("\n" * (line - lines_written))   # blank lines kept: a row is still its line
            record = map_record_leaves(record, _leaf_redactor(line, spans, redactor), str(path))
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            lines_written = line + 1


def _write_json(path, temp, spans, redactor, chunk_rows, kind) -> None:
    from .readers_json import json_rows, load_json_document, map_record_leaves

    document = load_json_document(path)
    rows = json_rows(document)
    redacted = [map_record_leaves(row, _leaf_redactor(i, spans, redactor), str(path)) for i, row in enumerate(rows)]
    if isinstance(document, list):
        out: Any = redacted
    elif rows is not document and isinstance(document, dict) and len(document) == 1:
        out = {next(iter(document)): redacted}
    else:
        out = redacted[0]
    Path(temp).write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_parquet(path, temp, spans, redactor, chunk_rows, kind) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for chunk in iter_cell_chunks(path, chunk_rows):
            columns = _redacted_columns(chunk, spans, redactor)
            table = pa.table({label: pa.array(values, pa.string()) for label, values in columns.items()})
            if writer is None:
                writer = pq.ParquetWriter(temp, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            pq.write_table(pa.table({}), temp)
    finally:
        if writer is not None:
            writer.close()


def _write_xlsx(path, temp, spans, redactor, chunk_rows, kind) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheets: dict[str, Any] = {}
    for chunk in iter_cell_chunks(path, chunk_rows):
        columns = _redacted_columns(chunk, spans, redactor)
        sheet = sheets.get(chunk.sheet)
        if sheet is None:
            sheet = sheets[chunk.sheet] = book.create_sheet(chunk.sheet)
            sheet.append([chunk.header(label) for label in columns])
        for row in zip(*columns.values()):
            sheet.append(list(row))
    if not sheets:
        book.create_sheet("Sheet1")
    book.save(temp)
