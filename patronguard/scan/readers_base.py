"""What every reader shares: the chunk of cells it yields, the checks made before a file is opened
(a regular, non-empty file of a known extension whose first bytes fit it), and column labels."""
from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

#: rows per chunk unless the caller says otherwise
DEFAULT_CHUNK_ROWS = 50_000
#: extension → format
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx"}
#: bytes looked at to tell text from binary
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class CellChunk:
    """Consecutive rows of one file (or one sheet), column by column, as text."""

    file: str
    sheet: str | None
    first_row: int
    columns: dict[str, list[str | None]]

    @property
    def row_count(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def header(self, label: str) -> str:
        """The column's own name: ``Sheet!Header`` → ``Header`` (the label as is outside workbooks)."""
        prefix = f"{self.sheet}!"
        return label[len(prefix):] if self.sheet is not None and label.startswith(prefix) else label


def file_format(path: str | Path) -> str:
    """The format of ``path`` by its extension; InputError naming the file otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{path}: unknown file type {suffix or '(no extension)'!r}; expected one of {known}")
    return FORMATS[suffix]


def check_regular_nonempty(path: Path, empty: str) -> None:
    """``path`` is a regular, non-empty file; otherwise one line naming it (``empty`` says what was expected)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file")
    if info.st_size == 0:
        raise InputError(f"{path}: empty file; {empty}")


def check_input_file(path: str | Path) -> str:
    """A readable, non-empty regular file of a known format whose first bytes fit that format; its format."""
    path = Path(path)
    kind = file_format(path)
    check_regular_nonempty(path, "nothing to scan")
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    _check_magic(path, kind, head)
    return kind


#: magic numbers of files that are not what a text export's extension claims
_BINARY_MAGIC = {b"PK\x03\x04": "a zip archive (an XLSX workbook?)", b"\xd0\xcf\x11\xe0": "an OLE file (legacy .xls?)",
                 b"PAR1": "a Parquet file", b"%PDF": "a PDF document", b"\x89PNG": "a PNG image",
                 b"\xff\xd8\xff": "a JPEG image", b"\x1f\x8b": "a gzip archive", b"SQLite format 3": "a SQLite database"}


def _check_magic(path: Path, kind: str, head: bytes) -> None:
    if kind == "xlsx":
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise InputError(f"{path}: a password-protected (encrypted) workbook or a legacy .xls, not an XLSX "
                             "zip; save it without a password as .xlsx to scan it")
        if not head.startswith(b"PK\x03\x04"):
            raise InputError(f"{path}: not an XLSX workbook (no zip header)")
        return
    if kind == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputError(f"{path}: not a Parquet file (no PAR1 header)")
        return
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: UTF-16 text; save it as UTF-8 (or latin-1) to scan it")
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{path}: binary file ({what}), not {kind.upper()} text")
    if looks_binary(head):
        raise InputError(f"{path}: binary file, not {kind.upper()} text")
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputError(f"{path}: empty file (only blanks); nothing to scan")


def looks_binary(head: bytes) -> bool:
    """NUL bytes (no text encoding patronguard reads has them) or more than 1% control characters."""
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    return controls > len(head) / 100


def unique_labels(names: list[str], empty: str = "column {n}") -> list[str]:
    """Column labels, one per name: an empty name becomes ``column N`` (1-based), and a name given twice is
    ``name#2`` the second time — so no column hides behind another."""
    out: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(names, start=1):
        name = str(raw).strip() if raw is not None else ""
        label = name or empty.format(n=n)
        candidate, k = label, 1
        while candidate in seen:
            k += 1
            candidate = f"{label}#{k}"
        seen.add(candidate)
        out.append(candidate)
    return out
