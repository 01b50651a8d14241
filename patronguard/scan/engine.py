"""The scanner: Presidio's ``AnalyzerEngine``, offline, over patronguard's recognizers, one column at
a time.

``scan_column`` scans text cells only, each distinct value once (findings mapped back to every row
holding it), and calls Presidio only on the values the pre-filter
(:mod:`.recognizers.candidates`) keeps. ``scan_column_plain`` calls Presidio on every cell with the
same recognizers — the reference the tests and the benchmark compare with.

The column's name goes to Presidio as context (its words count as context words; a birth-date-like
name adds "dob"; bibliographic columns are recognised by the known-patron recognizer).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from .known import KnownPatron
from .recognizers.candidates import CandidateFilter
from .recognizers.known_patron import COLUMN_MARKER
from .recognizers.nlp_engines import build_nlp_engine
from .recognizers.patron_dictionary import PatronDictionary
from .recognizers.registry import DEFAULT_RECOGNIZERS_FILE, build_registry
from .settings import ScanSettings

#: Presidio's context enhancer: context words up to five words before a match or three after it,
#: compared as whole words (substring matching would take "ms" in "items" for "Ms.")
CONTEXT_WORDS_BEFORE, CONTEXT_WORDS_AFTER = 5, 3
_COLUMN_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True, slots=True)
class CellFinding:
    """One finding in one cell: ``index`` is the cell's position in the scanned values, ``start`` and
    ``end`` code-point offsets in the cell; ``explanation`` says which pattern, context word or
    dictionary entry kind matched and which validations passed — never the value."""

    index: int
    start: int
    end: int
    entity: str
    score: float
    recognizer: str
    explanation: str


def column_context(column: str, settings: ScanSettings) -> list[str]:
    """What Presidio is told about a column: its name (marked) and its words, lower case."""
    words = [w.lower() for w in _COLUMN_WORD.findall(column.rsplit("!", 1)[-1])]
    if settings.is_dob_column(column):
        words.append("dob")
    return [COLUMN_MARKER + column, column.lower(), *words]


class Scanner:
    """The leak scanner for one library: its settings and its known patrons."""

    def __init__(self, settings: ScanSettings | None = None, known: Sequence[KnownPatron] = (),
                 recognizers_file: Path = DEFAULT_RECOGNIZERS_FILE) -> None:
        self.settings = settings or ScanSettings()
        self.dictionary = PatronDictionary(known)
        self.registry = build_registry(self.settings, self.dictionary, Path(recognizers_file))
        self.analyzer = AnalyzerEngine(
            registry=self.registry, nlp_engine=build_nlp_engine(self.settings.nlp_model),
            supported_languages=["en"], default_score_threshold=self.settings.threshold,
            context_aware_enhancer=LemmaContextAwareEnhancer(
                context_prefix_count=CONTEXT_WORDS_BEFORE, context_suffix_count=CONTEXT_WORDS_AFTER,
                context_matching_mode="whole_word"))
        self.candidates = CandidateFilter(self.registry, self.settings)
        self._validations = {r.name: getattr(r, "validation", "") for r in self.registry.recognizers}

    def _explain(self, result: RecognizerResult) -> str:
        explanation = result.analysis_explanation
        recognizer = result.recognition_metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, "")
        parts = [explanation.pattern_name or explanation.textual_explanation or recognizer]
        validation = self._validations.get(recognizer, "")
        if explanation.validation_result is True:
            parts.append(f"validated: {validation}")
        elif validation:
            parts.append(f"passed: {validation}")
        if explanation.supportive_context_word:
            parts.append(f"evidence: {explanation.supportive_context_word}")
        return "; ".join(parts)

    def analyze_cell(self, text: str, context: Sequence[str]) -> list[tuple[int, int, str, float, str, str]]:
        """Presidio's findings in one cell: (start, end, entity, score, recognizer, explanation)."""
        results = self.analyzer.analyze(text=text, language="en", context=list(context),
                                        score_threshold=self.settings.threshold, return_decision_process=True)
        return [(r.start, r.end, r.entity_type, round(r.score, 6),
                 r.recognition_metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, ""), self._explain(r))
                for r in results]

    def scan_column(self, column: str, values: Sequence[str | None]) -> list[CellFinding]:
        """The findings in one column: text cells only, each distinct value analysed once, and only
        the values the pre-filter keeps."""
        try:
            distinct = [v for v in dict.fromkeys(values) if isinstance(v, str) and v.strip()]
        except TypeError:                      # an unhashable cell: not text, skipped
            distinct = list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))
        context = column_context(column, self.settings)
        found = {value: self.analyze_cell(value, context)
                 for value in self.candidates.select(distinct, column, context[1:])}
        found = {value: cell for value, cell in found.items() if cell}
        findings = []
        if found:
            for index, value in enumerate(values):
                if isinstance(value, str) and value in found:
                    findings.extend(CellFinding(index, *f) for f in found[value])
        return sorted(findings, key=_order)

    def scan_column_plain(self, column: str, values: Sequence[str | None]) -> list[CellFinding]:
        """The same recognizers, Presidio called on every text cell: no pre-filter, no de-duplication."""
        context = column_context(column, self.settings)
        findings = []
        for index, value in enumerate(values):
            if isinstance(value, str) and value.strip():
                findings.extend(CellFinding(index, *f) for f in self.analyze_cell(value, context))
        return sorted(findings, key=_order)


def _order(finding: CellFinding) -> tuple:
    return finding.index, finding.start, finding.end, finding.entity, finding.recognizer
