"""DATE_OF_BIRTH: a date is a date of birth only with evidence — a context word ("born", "DOB",
"birth"…) near it or a birth-date-like column name (Presidio's context enhancer, from the word list in
recognizers.yaml), or, in free text, the birth date of a known patron. Loan, due and event dates are
not PII: the bare pattern scores below the threshold."""
from __future__ import annotations

import datetime as dt
import re
from typing import Iterable

from presidio_analyzer import RecognizerResult

from .pattern_base import LibraryPatternRecognizer

_MONTHS = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}
_NUMBERS = re.compile(r"\d+")
_MONTH_WORD = re.compile(r"[a-z]+")
_LETTER = re.compile(r"[^\W\d_]")
#: the score a date gets from a known patron's birth date (as from a context word: above the threshold)
KNOWN_BIRTH_DATE_SCORE = 0.85


def parse_date(text: str) -> dt.date | None:
    """The calendar date a matched date string names (ISO, US numeric or with a month name), or None."""
    lowered = text.lower()
    numbers = [int(n) for n in _NUMBERS.findall(lowered)]
    month_words = [w for w in _MONTH_WORD.findall(lowered) if w in _MONTHS]
    try:
        if month_words and len(numbers) >= 2:
            return dt.date(numbers[-1], _MONTHS[month_words[0]], numbers[0])
        if len(numbers) == 3 and numbers[0] > 31:
            return dt.date(numbers[0], numbers[1], numbers[2])
        if len(numbers) == 3:
            year = numbers[2] if numbers[2] > 99 else (1900 + numbers[2] if numbers[2] > 30 else 2000 + numbers[2])
            return dt.date(year, numbers[0], numbers[1])
    except ValueError:
        return None
    return None


def has_free_text(text: str, start: int, end: int) -> bool:
    """Whether ``text`` has letters outside [start, end) — a note, not a bare date cell."""
    return bool(_LETTER.search(text, 0, start) or _LETTER.search(text, end))


class DateOfBirthRecognizer(LibraryPatternRecognizer):
    validation = "a real calendar date"

    def __init__(self, *args, known_birth_dates: Iterable[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.known_birth_dates = frozenset(known_birth_dates)

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return parse_date(pattern_text) is None

    def is_known_birth_date(self, text: str, start: int, end: int) -> bool:
        """A date in free text that is a known patron's birth date (the evidence this adds)."""
        if not self.known_birth_dates or not has_free_text(text, start, end):
            return False
        day = parse_date(text[start:end])
        return day is not None and day.isoformat() in self.known_birth_dates

    def enhance_using_context(self, text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts,
                              context=None) -> list[RecognizerResult]:
        for result in raw_recognizer_results:
            if result.score < KNOWN_BIRTH_DATE_SCORE and self.is_known_birth_date(text, result.start, result.end):
                result.score = KNOWN_BIRTH_DATE_SCORE
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                if result.analysis_explanation:
                    result.analysis_explanation.set_supportive_context_word("known patron birth date")
                    result.analysis_explanation.set_improved_score(result.score)
        return raw_recognizer_results
