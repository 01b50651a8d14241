"""KNOWN_PATRON (and LIBRARY_CARD for exact known card numbers): the library's own patrons, found
with the known-patron dictionary (:mod:`.patron_dictionary`).

A full name, an email, a phone, a street address or a card number of a known patron is a finding. A
first name or surname alone (capitalised) counts only with evidence: a patron context word nearby
(Presidio's context enhancer: "patron", "borrower", "Mrs."…), or the rest of that patron's name
within a few words. A name in a bibliographic column (title, author…) is a book's, not a finding;
in free text, a name the text is about as a book's author ("by", "novel", a quoted title…) is not a
finding unless the text also speaks of a patron.
"""
from __future__ import annotations

import re
from typing import Sequence

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

from ..settings import ScanSettings
from .patron_dictionary import CARD, FIRST_NAME, NAME_KINDS, PARTIAL_KINDS, SURNAME, DictionaryHit, PatronDictionary

#: recognition metadata: which kind of dictionary entry a result is
KIND_KEY = "patronguard_entry_kind"
#: the context list marker the scanner passes with the column's name
COLUMN_MARKER = "column="
SCORES = {CARD: 1.0, "email": 1.0, "phone": 0.9, "street address": 0.85, "full name": 0.85,
          "full name, surname first": 0.85}
PAIRED_NAME_SCORE = 0.85
#: a name alone: below the threshold unless a context word lifts it (Presidio adds 0.35)
PARTIAL_NAME_SCORE = 0.3
#: how far apart (characters) a first name and the same patron's surname may be and still pair
PAIR_DISTANCE = 40
_BOOK_BEFORE = re.compile(r"\b(?:by|authors?|authored|written|novels?|books?|titled?|biography|memoir|poems|poetry|"
                          r"series|edited|translated|illustrated|bestseller|novelist|writer)\b",
                          re.IGNORECASE)
_BOOK_AFTER = re.compile(r"^\W{0,3}(?:'s\s+(?:new\s+|latest\s+|first\s+|last\s+)?(?:novel|book|memoir|series|poems|"
                         r"biography|title|bestseller)|\(\s*(?:author|ed\.|editor)\s*\)|,?\s+(?:the\s+)?"
                         r"(?:author|novelist|writer|poet)\b|\s+(?:reading from|signing|signs)\b)", re.IGNORECASE)
_QUOTED_TITLE = re.compile(r"[\"“][^\"”]{2,80}[\"”]")
_ABOUT_A_PATRON = re.compile(r"\b(?:patrons?|borrowers?|card ?holders?|members?|customers?|called|phoned|emailed|"
                             r"texted|owes|account|lives)\b", re.IGNORECASE)


def column_of(context: Sequence[str] | None) -> str | None:
    """The column name the scanner passed in Presidio's ``context`` list, if any."""
    for word in context or ():
        if word.startswith(COLUMN_MARKER):
            return word[len(COLUMN_MARKER):]
    return None


def about_a_book(text: str, start: int, end: int) -> bool:
    """Whether the name at [start, end) is spoken of as an author, in a text about no patron."""
    window_before = text[max(0, start - 40):start]
    window_after = text[end:end + 30]
    cue = (_BOOK_BEFORE.search(window_before) or _BOOK_AFTER.search(window_after)
           or _QUOTED_TITLE.search(text, max(0, start - 60), min(len(text), end + 60)))
    return bool(cue) and not _ABOUT_A_PATRON.search(text)


class KnownPatronRecognizer(EntityRecognizer):
    """The known-patron dictionary as a Presidio recognizer."""

    def __init__(self, dictionary: PatronDictionary, settings: ScanSettings, context: Sequence[str] = (),
                 supported_entities: Sequence[str] = ("KNOWN_PATRON", "LIBRARY_CARD"),
                 name: str | None = None) -> None:
        self.dictionary = dictionary
        self.settings = settings
        super().__init__(supported_entities=list(supported_entities), name=name, supported_language="en",
                         context=list(context))

    def load(self) -> None:
        """The automaton is built with the dictionary."""

    def evaluate(self, text: str) -> list[tuple[DictionaryHit, float, str]]:
        """(hit, score before context, what matched) for every entry of the dictionary in ``text``."""
        hits = self.dictionary.find(text)
        whole = [h for h in hits if h.kind not in PARTIAL_KINDS]
        partial = [h for h in hits if h.kind in PARTIAL_KINDS and text[h.start].isupper()
                   and not any(w.start <= h.start and h.end <= w.end for w in whole)]
        paired = set()
        pairs = self.dictionary.name_pairs
        for first in (h for h in partial if h.first_name):
            for last in (h for h in partial if h.surname and h is not first):
                gap = max(first.start, last.start) - min(first.end, last.end)
                if 0 <= gap <= PAIR_DISTANCE and (first.key, last.key) in pairs:
                    paired.update((first, last))
        evaluated = []
        for hit in whole + partial:
            if hit.kind in NAME_KINDS and about_a_book(text, hit.start, hit.end):
                continue
            if hit in paired:
                evaluated.append((hit, PAIRED_NAME_SCORE, "first name and surname nearby"))
            elif hit.kind in PARTIAL_KINDS:
                what = FIRST_NAME if hit.first_name else SURNAME
                evaluated.append((hit, PARTIAL_NAME_SCORE, f"{what} alone (needs a context word)"))
            else:
                evaluated.append((hit, SCORES[hit.kind], hit.kind))
        return evaluated

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        for hit, score, what in self.evaluate(text):
            entity = "LIBRARY_CARD" if hit.kind == CARD else "KNOWN_PATRON"
            if entities and entity not in entities:
                continue
            explanation = AnalysisExplanation(recognizer=self.name, original_score=score,
                                              pattern_name=f"known patron {what}",
                                              textual_explanation=f"dictionary entry: known patron {what}")
            results.append(RecognizerResult(
                entity_type=entity, start=hit.start, end=hit.end, score=score, analysis_explanation=explanation,
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id, KIND_KEY: hit.kind}))
        return results

    def enhance_using_context(self, text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts,
                              context=None) -> list[RecognizerResult]:
        """In a bibliographic column a name is a book's: names score 0 there (cards, emails… stay)."""
        column = column_of(context)
        if column is None or not self.settings.is_bibliographic(column):
            return raw_recognizer_results
        for result in raw_recognizer_results:
            if result.recognition_metadata.get(KIND_KEY) in NAME_KINDS:
                result.score = 0.0
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results
