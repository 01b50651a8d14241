"""What a scan found, as people and programs read it — never a value, masked previews only.

* :class:`FindingRecord`: one finding in one cell — ``file``, ``row``, ``column``, ``start``, ``end``,
  ``entity``, ``score``, ``recognizer``, ``explanation`` and ``preview`` (:func:`~patronguard.scan.mask.mask_preview`
  of the matched text). Written one JSON object a line by :class:`FindingsFile`.
* :class:`ScanReport`: the tally of a scan, column by column, and from it a :class:`ColumnVerdict` per
  column with findings: the entities, how many of its non-empty cells hold one (hit rate), the highest
  score, how many distinct values matched (with a few masked previews) and why (the explanations).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .mask import mask_preview
from .readers_base import CellChunk

#: masked previews of distinct matched values shown per column
EXAMPLES_PER_COLUMN = 5
#: explanations shown per column
REASONS_PER_COLUMN = 3


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One finding, located and explained; ``preview`` is masked, the value itself is never kept."""

    file: str
    row: int
    column: str
    start: int
    end: int
    entity: str
    score: float
    recognizer: str
    explanation: str
    preview: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChunkFindings:
    """What scanning one chunk gave: its findings, a digest per finding of the value matched (to count
    distinct values without keeping them), and the non-empty cells of each column."""

    file: str
    records: list[FindingRecord]
    value_digests: list[bytes]
    cells: dict[str, int]


def value_digest(text: str) -> bytes:
    """A short digest of a matched value, in memory only: distinct values are counted, never kept."""
    return hashlib.blake2b(" ".join(text.casefold().split()).encode("utf-8"), digest_size=8).digest()


def chunk_findings(chunk: CellChunk, findings_by_column: dict[str, Sequence]) -> ChunkFindings:
    """Locate the engine's findings (``index``, ``start``, ``end``, ``entity``, ``score``, ``recognizer``,
    ``explanation``) of each column of ``chunk`` in the file, with a masked preview of each."""
    records: list[FindingRecord] = []
    digests: list[bytes] = []
    for column, findings in findings_by_column.items():
        values = chunk.columns[column]
        for finding in findings:
            matched = (values[finding.index] or "")[finding.start:finding.end]
            records.append(FindingRecord(
                file=chunk.file, row=chunk.first_row + finding.index, column=column, start=finding.start,
                end=finding.end, entity=finding.entity, score=round(float(finding.score), 4),
                recognizer=finding.recognizer, explanation=finding.explanation, preview=mask_preview(matched)))
            digests.append(value_digest(matched))
    cells = {column: sum(1 for value in values if value) for column, values in chunk.columns.items()}
    return ChunkFindings(file=chunk.file, records=records, value_digests=digests, cells=cells)


@dataclass(frozen=True, slots=True)
class ColumnVerdict:
    """Why a column blocks the file: what was found there, how often, how surely."""

    file: str
    column: str
    entities: dict[str, int]
    cells: int
    cells_with_findings: int
    hit_rate: float
    max_score: float
    distinct_values: int
    examples: list[str]
    why: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _ColumnTally:
    cells: int = 0
    rows_hit: int = 0
    max_score: float = 0.0
    entities: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    digests: set = field(default_factory=set)
    examples: dict = field(default_factory=dict)   # masked preview → None, in order of first sight


class ScanReport:
    """The tally of a scan over one or more files (memory grows with distinct findings, not with rows)."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, int]] = {}          # file → rows, cells
        self._columns: dict[tuple[str, str], _ColumnTally] = {}
        self.findings = 0

    def add_file(self, file: str) -> None:
        self.files.setdefault(file, {"rows": 0, "cells": 0, "findings": 0})

    def add(self, result: ChunkFindings, rows: int) -> None:
        self.add_file(result.file)
        tally_file = self.files[result.file]
        tally_file["rows"] += rows
        tally_file["cells"] += sum(result.cells.values())
        tally_file["findings"] += len(result.records)
        self.findings += len(result.records)
        for column, cells in result.cells.items():
            self._tally(result.file, column).cells += cells
        rows_hit: dict[str, set[int]] = {}
        for record, digest in zip(result.records, result.value_digests):
            tally = self._tally(record.file, record.column)
            tally.entities[record.entity] += 1
            tally.reasons[record.explanation] += 1
            tally.max_score = max(tally.max_score, record.score)
            tally.digests.add(digest)
            if len(tally.examples) < EXAMPLES_PER_COLUMN:
                tally.examples.setdefault(record.preview, None)
            rows_hit.setdefault(record.column, set()).add(record.row)
        for column, rows_seen in rows_hit.items():   # a chunk's rows are its own: counts add up across chunks
            self._tally(result.file, column).rows_hit += len(rows_seen)

    def _tally(self, file: str, column: str) -> _ColumnTally:
        return self._columns.setdefault((file, column), _ColumnTally())

    @property
    def blocked(self) -> bool:
        return self.findings > 0

    def blocked_files(self) -> list[str]:
        return [file for file, tally in self.files.items() if tally["findings"]]

    def verdicts(self) -> list[ColumnVerdict]:
        out = []
        for (file, column), tally in self._columns.items():
            if not tally.entities:
                continue
            out.append(ColumnVerdict(
                file=file, column=column, entities=dict(tally.entities.most_common()), cells=tally.cells,
                cells_with_findings=tally.rows_hit,
                hit_rate=round(tally.rows_hit / tally.cells, 4) if tally.cells else 0.0,
                max_score=tally.max_score, distinct_values=len(tally.digests), examples=list(tally.examples),
                why=[reason for reason, _ in tally.reasons.most_common(REASONS_PER_COLUMN)]))
        return out

    def to_dict(self) -> dict:
        return {"status": "blocked" if self.blocked else "clean", "findings": self.findings,
                "files": [{"file": file, **tally} for file, tally in self.files.items()],
                "columns": [verdict.to_dict() for verdict in self.verdicts()]}

    def summary_rows(self) -> list[list]:
        """One row per column with findings, for the terminal table (:data:`SUMMARY_COLUMNS`)."""
        return [[v.file, v.column, ", ".join(f"{e} ×{n}" for e, n in v.entities.items()),
                 f"{v.cells_with_findings:,}/{v.cells:,}", f"{v.hit_rate:.1%}", f"{v.max_score:.2f}",
                 v.distinct_values, ", ".join(v.examples), "; ".join(v.why)] for v in self.verdicts()]


SUMMARY_COLUMNS = ["file", "column", "entities", "cells hit", "hit rate", "max score", "distinct", "examples (masked)",
                   "why"]


class FindingsFile:
    """Findings as JSONL, written to a temporary file beside ``path`` and put in place by :meth:`commit` —
    so a scan that fails midway leaves nothing (and never half a file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent or ".")
        self._temp = Path(temp)
        self._handle = os.fdopen(handle, "w", encoding="utf-8")

    def write(self, records: Iterable[FindingRecord]) -> None:
        for record in records:
            self._handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")

    def commit(self) -> Path:
        self._handle.close()
        os.replace(self._temp, self.path)
        return self.path

    def abort(self) -> None:
        self._handle.close()
        self._temp.unlink(missing_ok=True)
