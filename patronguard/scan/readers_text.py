"""CSV and TSV, streamed with pyarrow's CSV reader: every column read as text, block by block.

pyarrow reads any bytes that are not UTF-8 as binary without a word, so the encoding is settled first
by one pass over the file (:func:`detect_encoding`: UTF-8 with or without a BOM, else cp1252, else
latin-1 — every byte is a latin-1 character); the header is read with the standard ``csv`` module so
every column can be declared text (pyarrow would otherwise make ``00123`` the number 123).
A row with more or fewer fields than the header is refused, naming its line.
"""
from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError
from .readers_base import CellChunk, unique_labels

#: bytes per block read and checked at a time
BLOCK_BYTES = 1 << 20
#: bytes cp1252 leaves undefined: a file holding one is latin-1
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_BOMS = {codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16", codecs.BOM_UTF32_LE: "UTF-32"}


def detect_encoding(path: Path) -> str:
    """``utf-8``, ``cp1252`` or ``latin-1``: the first that decodes the whole file (read block by block)."""
    with path.open("rb") as handle:
        head = handle.read(4)
        for bom, name in _BOMS.items():
            if head.startswith(bom):
                raise InputError(f"{path}: {name} text; save it as UTF-8 (or latin-1) to scan it")
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        cp1252 = True
        utf8 = True
        while block := handle.read(BLOCK_BYTES):
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if cp1252 and any(b in block for b in _CP1252_UNDEFINED):
                cp1252 = False
            if not utf8 and not cp1252:
                break
        if utf8:
            try:
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
    return "cp1252" if cp1252 else "latin-1"


def read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The header's fields (the first record), read with the ``csv`` module from the file's start."""
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        head = handle.read(BLOCK_BYTES)
    reader = csv.reader(io.StringIO(head), delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t"
                        else csv.QUOTE_MINIMAL)
    try:
        first = next(reader, None)
    except csv.Error:
        raise InputError(f"{path}: the header line is not valid CSV") from None
    if not first or not any(field.strip() for field in first):
        raise InputError(f"{path}: no header line (the first line names the columns)")
    return first


def iter_delimited(path: Path, chunk_rows: int, *, delimiter: str) -> Iterator[CellChunk]:
    encoding = detect_encoding(path)
    labels = unique_labels(read_header(path, encoding, delimiter))
    ragged: list[tuple[int, int]] = []   # (line, fields) of the first row that does not fit the header

    def refuse_ragged(row) -> str:
        ragged.append((row.number, row.actual_columns))
        return "error"

    tsv = delimiter == "\t"
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=labels, skip_rows=1, use_threads=False,
                                           block_size=BLOCK_BYTES,
                                           encoding="utf8" if encoding == "utf-8" else encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False if tsv else '"',
                                             newlines_in_values=not tsv, invalid_row_handler=refuse_ragged),
            convert_options=pacsv.ConvertOptions(column_types={label: pa.string() for label in labels},
                                                 strings_can_be_null=False))
        pending: list[pa.RecordBatch] = []
        waiting = 0
        first_row = 0
        for batch in _batches(reader):
            pending.append(batch)
            waiting += batch.num_rows
            while waiting >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield _chunk(path, first_row, table.slice(0, chunk_rows))
                rest = table.slice(chunk_rows)
                pending, waiting, first_row = rest.to_batches(), rest.num_rows, first_row + chunk_rows
        if waiting:
            yield _chunk(path, first_row, pa.Table.from_batches(pending))
    except pa.ArrowInvalid as exc:
        if ragged:
            line, fields = ragged[0]
            where = f"line {line}" if line is not None and line >= 0 else "a row"
            raise InputError(f"{path}: {where} has {fields} field{'s' if fields != 1 else ''}, the header "
                             f"{len(labels)} (ragged rows); fix the row or quote its delimiters") from None
        if "straddl" in str(exc):
            raise InputError(f"{path}: a row longer than {BLOCK_BYTES // 2**20} MiB (or an unclosed quote); "
                             "not read") from None
        raise InputError(f"{path}: not valid {'TSV' if tsv else 'CSV'} ({_reason(exc)})") from None


def _batches(reader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def _reason(exc: Exception) -> str:
    """The parser's complaint without the row it quotes (``…: <row text>``)."""
    parts = " ".join(str(exc).split()).split(": ")
    return ": ".join(parts[:2])[:120] if len(parts) > 2 else parts[0][:120]


def _chunk(path: Path, first_row: int, table: pa.Table) -> CellChunk:
    columns = {name: [value or None for value in table.column(name).to_pylist()] for name in table.column_names}
    return CellChunk(file=str(path), sheet=None, first_row=first_row, columns=columns)
