"""The scan under a decision: every finding is judged permitted (the data of a patron the decision
released) or blocking (anything else), chunk by chunk, where the cell values are — only masked findings
and counts leave a chunk.

:func:`judge_chunk` is the unit of work: in this process for a small export, or one Prefect task per
chunk on Dask workers for a large one (:func:`judge_chunk_on_worker` builds the scanner once per worker
process). :class:`ShareScan` tallies the judged chunks.
"""
from __future__ import annotations

import hashlib
import pickle
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..scan.known import KnownPatron
from ..scan.readers_base import CellChunk
from ..scan.redact import RedactionPlan
from ..scan.report import ChunkFindings, ScanReport
from ..scan.run import scan_chunk
from .attribution import PatronIndex


@dataclass(frozen=True, slots=True)
class ReleaseScope:
    """What the decision lets through: with ``patron_fields`` False, nothing; else the data of ``patrons``."""

    patron_fields: bool
    patrons: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class JudgedChunk:
    """One chunk's findings split: ``blocking`` and ``permitted`` (masked previews, digests, cell counts)."""

    file: str
    rows: int
    blocking: ChunkFindings
    permitted: ChunkFindings


def _split(result: ChunkFindings, keep: list[bool]) -> ChunkFindings:
    return ChunkFindings(file=result.file,
                         records=[r for r, k in zip(result.records, keep) if k],
                         value_digests=[d for d, k in zip(result.value_digests, keep) if k],
                         cells=dict(result.cells))


def judge_chunk(scanner, index: PatronIndex, scope: ReleaseScope, chunk: CellChunk) -> JudgedChunk:
    """Scan one chunk and judge each finding by whose data it is (the matched text is looked at here,
    in the chunk, and never kept)."""
    result = scan_chunk(scanner, chunk)
    permitted = []
    for record in result.records:
        allowed = False
        if scope.patron_fields:
            value = chunk.columns[record.column][record.row - chunk.first_row] or ""
            owners = index.owners(value[record.start:record.end])
            allowed = bool(owners) and owners <= scope.patrons
        permitted.append(allowed)
    return JudgedChunk(file=result.file, rows=chunk.row_count, blocking=_split(result, [not p for p in permitted]),
                       permitted=_split(result, permitted))


class ChunkJudge:
    """A scanner and a patron index built once, judging chunks (in this process or on a worker)."""

    def __init__(self, settings, known: Sequence[KnownPatron], scope: ReleaseScope) -> None:
        from ..scan.engine import Scanner

        self.scanner = Scanner(settings, known)
        self.index = PatronIndex(known)
        self.scope = scope

    def __call__(self, chunk: CellChunk) -> JudgedChunk:
        return judge_chunk(self.scanner, self.index, self.scope, chunk)


def judge_key(settings, known: Sequence[KnownPatron], scope: ReleaseScope) -> str:
    """What identifies a judge (settings, patrons, scope): a worker keeps one judge per key."""
    return hashlib.sha256(pickle.dumps((settings.model_dump_json(), tuple(known), scope))).hexdigest()


_WORKER_JUDGES: dict[str, ChunkJudge] = {}


def judge_chunk_on_worker(chunk: CellChunk, key: str, settings, known: Sequence[KnownPatron],
                          scope: ReleaseScope) -> JudgedChunk:
    """:func:`judge_chunk` with the judge built once per worker process (a Presidio engine takes a second)."""
    judge = _WORKER_JUDGES.get(key)
    if judge is None:
        _WORKER_JUDGES.clear()
        judge = _WORKER_JUDGES[key] = ChunkJudge(settings, known, scope)
    return judge(chunk)


@dataclass
class ShareScan:
    """The tally of a judged scan of one file."""

    file: str
    blocking: ScanReport = field(default_factory=ScanReport)
    permitted: ScanReport = field(default_factory=ScanReport)
    plan: RedactionPlan = field(default_factory=RedactionPlan)
    rows: int = 0

    def __post_init__(self) -> None:
        self.blocking.add_file(self.file)
        self.permitted.add_file(self.file)

    def add(self, judged: JudgedChunk) -> None:
        self.rows += judged.rows
        self.blocking.add(judged.blocking, judged.rows)
        self.permitted.add(judged.permitted, judged.rows)
        self.plan.add(judged.blocking.records)    # only what blocks is redacted

    @property
    def blocked(self) -> bool:
        return self.blocking.findings > 0

    @property
    def cells(self) -> int:
        return sum(f["cells"] for f in self.blocking.files.values())

    def entity_counts(self) -> dict[str, dict[str, int]]:
        """Findings per entity kind, blocking and permitted — counts only."""
        out = {}
        for name, report in (("blocking", self.blocking), ("permitted", self.permitted)):
            counts: Counter = Counter()
            for verdict in report.verdicts():
                counts.update(verdict.entities)
            out[name] = dict(sorted(counts.items()))
        return out

    def summary(self) -> dict:
        return {"rows": self.rows, "cells": self.cells, "findings": self.blocking.findings + self.permitted.findings,
                "blocking": self.blocking.findings, "permitted": self.permitted.findings,
                "entities": self.entity_counts()}


def tally(file: str, judged: Iterable[JudgedChunk]) -> ShareScan:
    scan = ShareScan(file)
    for chunk in judged:
        scan.add(chunk)
    return scan
