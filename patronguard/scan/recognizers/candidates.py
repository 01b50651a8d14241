"""The pre-filter: which of a column's distinct values can produce a finding at all, decided in one
vectorised pass over the column without calling Presidio. Presidio then analyses those values only.

Every pattern runs first as an RE2 gate over the whole column at once (pyarrow; the pattern widened so
it rejects only values the pattern cannot match: :mod:`.re2_gate`), then as itself (Presidio's compiled
regex) on the values the gate let through. It is built from the recognizers themselves, so it cannot
lose a finding:

* a pattern that can reach the threshold on its own (its score, or a validation hook that can
  confirm) — no match, no result;
* a pattern scored below the threshold — its regex AND evidence that could lift it: one of its
  recognizer's context words anywhere in the value or in the column's name (Presidio's enhancer
  looks only at a few words around the match, a subset), or for dates a known patron's birth date;
* the known-patron dictionary — the recognizer's own evaluation of the one automaton (no hit, no
  result; a name alone needs a context word; a name in a bibliographic column is never a finding);
* any other kind of recognizer (e.g. a Presidio NER one) cannot be bounded: every value is a candidate.

``tests/test_scan_quality.py`` checks on the labelled corpus that scanning the candidates gives
exactly the findings of a plain scan of every cell.
"""
from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Iterator, Sequence

import pyarrow as pa
import regex
from presidio_analyzer import PatternRecognizer, RecognizerRegistry

from ..settings import ScanSettings
from .date_of_birth import DateOfBirthRecognizer
from .known_patron import KnownPatronRecognizer
from .patron_dictionary import NAME_KINDS
from .re2_gate import gate, widen_for_re2


def context_regex(words: Sequence[str]) -> regex.Pattern | None:
    """Any of ``words`` in a text, not inside a longer word (letters only count as word characters,
    as the tokenizer splits at digits and punctuation)."""
    words = sorted({w.lower() for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    return regex.compile(r"(?<![^\W\d_])(?:" + "|".join(regex.escape(w) for w in words) + r")(?![^\W\d_])",
                         regex.IGNORECASE)


class _Pattern:
    """One recognizer pattern: Presidio's compiled regex, its RE2 widening (or None), and — for a
    pattern scored below the threshold — the evidence that could lift it."""

    def __init__(self, regex_text: str, recognizer: PatternRecognizer) -> None:
        self.compiled = regex.compile(regex_text, recognizer.global_regex_flags)
        self.ignore_case = bool(recognizer.global_regex_flags & regex.IGNORECASE)
        widened = widen_for_re2(regex_text)
        self.widened = widened if widened is not None and _re2_accepts(widened) else None
        self.recognizer = recognizer
        self.context_words = {w.lower() for w in recognizer.context or ()}
        self.in_text = context_regex(recognizer.context or ())
        # the values that may hold evidence at all, as an RE2 gate: a context word, or for dates (when
        # birth dates are known) a letter — a known birth date counts in free text only
        evidence = [widen_for_re2(self.in_text.pattern)] if self.in_text is not None else []
        if isinstance(recognizer, DateOfBirthRecognizer) and recognizer.known_birth_dates:
            evidence.append(r"\p{L}")
        self.evidence_gate = evidence if None not in evidence and all(map(_re2_accepts, evidence)) else None

    def has_evidence(self, value: str, column_words: set[str]) -> bool:
        if self.context_words & column_words:
            return True
        if self.in_text is not None and self.in_text.search(value):
            return True
        if isinstance(self.recognizer, DateOfBirthRecognizer):
            return any(self.recognizer.is_known_birth_date(value, m.start(), m.end())
                       for m in self.compiled.finditer(value))
        return False


def _re2_accepts(pattern: str) -> bool:
    try:
        gate(pa.array([""]), [pattern], ignore_case=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


class CandidateFilter:
    """Selects the values worth analysing, for one registry and threshold."""

    def __init__(self, registry: RecognizerRegistry, settings: ScanSettings) -> None:
        self.settings = settings
        self.strong: list[_Pattern] = []
        self.weak: list[_Pattern] = []
        self.known: list[KnownPatronRecognizer] = []
        self.unbounded = False
        for recognizer in registry.get_recognizers(language="en", all_fields=True):
            if isinstance(recognizer, KnownPatronRecognizer):
                self.known.append(recognizer)
                continue
            if not isinstance(recognizer, PatternRecognizer) or type(recognizer).analyze is not PatternRecognizer.analyze:
                self.unbounded = True
                continue
            confirms = getattr(recognizer, "confirms", True)
            for pattern in recognizer.patterns:
                strong = pattern.score >= settings.threshold or confirms
                (self.strong if strong else self.weak).append(_Pattern(pattern.regex, recognizer))
        self.patron_context = {r.id: (context_regex(r.context or ()), {w.lower() for w in r.context or ()})
                               for r in self.known}

    def _known_patron_candidate(self, value: str, bibliographic: bool, column_words: set[str]) -> bool:
        for recognizer in self.known:
            in_text, words = self.patron_context[recognizer.id]
            for hit, score, _what in recognizer.evaluate(value):
                if bibliographic and hit.kind in NAME_KINDS:
                    continue
                if score >= self.settings.threshold or words & column_words:
                    return True
                if in_text is not None and in_text.search(value):
                    return True
        return False

    def _with_evidence(self, pattern: _Pattern, rows: list[int], column: pa.Array, column_words: set[str] | None,
                       ) -> list[int]:
        """``rows`` less those that cannot hold evidence for a weak ``pattern`` (``column_words`` None:
        a strong pattern, which needs none)."""
        if column_words is None or pattern.context_words & column_words or pattern.evidence_gate is None:
            return rows
        if not rows:
            return rows
        possible = set(gate(column, pattern.evidence_gate, ignore_case=True))
        return [row for row in rows if row in possible]

    def _rows_matching(self, patterns: list[_Pattern], values: Sequence[str], column: pa.Array | None,
                       joined: list[str | None], starts: list[int], column_words: set[str] | None = None,
                       ) -> Iterator[tuple[int, _Pattern]]:
        """(row, pattern) for every value a pattern may match: RE2-gated values first checked with the
        pattern itself; patterns RE2 cannot take run once over the column joined by newlines (every
        pattern treats a newline as it treats the start or end of a text; a match marks every value
        it touches, so a match running over two values can only add rows, never hide one)."""
        for ignore_case in (True, False):
            gated = [p for p in patterns if p.widened is not None and p.ignore_case == ignore_case]
            if gated and column is not None:
                rows = gate(column, [p.widened for p in gated], ignore_case)
                for pattern in gated:
                    for row in self._with_evidence(pattern, rows, column, column_words):
                        if pattern.compiled.search(values[row]):
                            yield row, pattern
        for pattern in (p for p in patterns if p.widened is None or column is None):
            if joined[0] is None:
                joined[0] = "\n".join(values)
            for match in pattern.compiled.finditer(joined[0]):
                first = bisect_right(starts, match.start()) - 1
                last = bisect_right(starts, max(match.end() - 1, match.start()))
                for row in range(first, last):
                    yield row, pattern

    def select(self, values: Sequence[str], column: str, column_words: Sequence[str]) -> list[str]:
        """The values of one column (distinct) that may hold a finding."""
        if self.unbounded:
            return list(values)
        bibliographic = self.settings.is_bibliographic(column)
        words = {w.lower() for w in column_words}
        chosen = bytearray(len(values))
        try:
            column_array: pa.Array | None = pa.array(values, type=pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):     # e.g. lone surrogates: no RE2 gate
            column_array = None
        joined: list[str | None] = [None]
        starts = list(accumulate((len(v) + 1 for v in values[:-1]), initial=0))
        for row, _pattern in self._rows_matching(self.strong, values, column_array, joined, starts):
            chosen[row] = 1
        for row, pattern in self._rows_matching(self.weak, values, column_array, joined, starts, words):
            if not chosen[row] and pattern.has_evidence(values[row], words):
                chosen[row] = 1
        if self.known:
            rows = set().union(*(r.dictionary.rows_with_entries(values) for r in self.known))
            for row in sorted(rows):
                if not chosen[row] and self._known_patron_candidate(values[row], bibliographic, words):
                    chosen[row] = 1
        return [v for v, keep in zip(values, chosen) if keep]
