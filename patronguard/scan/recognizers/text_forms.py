"""Text projections the recognizers match on, each with a map back to the original code points.

* :func:`fold` — case, accents (NFKD, combining marks dropped), hyphens and runs of spaces folded, so
  "JANE  DOE", "Doe-Jane" and "Tomás" meet the dictionary's "jane doe", "doe jane" and "tomas";
* :func:`digit_projection` — the ASCII digits of a text alone ("(914) 555-0100" → "9145550100"), so one
  dictionary entry per phone or card number matches it in every spacing and punctuation.

Written by hand because no library keeps the offset map a finding needs to point at the original
text (``unidecode`` and ``unicodedata`` change lengths without saying where).
"""
from __future__ import annotations

import re
import unicodedata

#: every dash a name or a number may be written with, and every kind of space
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad"
_ASCII_FOLD = str.maketrans({"-": " ", "\t": " ", "\n": " ", "\r": " ", "\u2019": "'"})
_NEEDS_SLOW_PATH = re.compile(r"[^\x00-\x7f]|\s\s|[-\s]{2,}|[\t\n\r]")
_DIGIT = re.compile(r"[0-9]")
#: what may stand between two digits of one phone or card number: spaces, dashes, dots, brackets, slash
_NUMBER_GAP = re.compile(r"[\s().\-+/]{0,3}")


def fold(text: str) -> tuple[str, list[int] | None]:
    """(folded text, origin) where ``origin[i]`` is the code point of ``text`` folded char ``i`` came
    from; ``origin`` is None when the fold kept every position (plain ASCII, the common case)."""
    if not _NEEDS_SLOW_PATH.search(text):
        return text.lower().translate(_ASCII_FOLD), None
    out: list[str] = []
    origin: list[int] = []
    last_space = False
    for index, char in enumerate(text):
        if char in _HYPHENS or char.isspace():
            if last_space or not out:
                continue
            out.append(" ")
            origin.append(index)
            last_space = True
            continue
        last_space = False
        if char == "\u2019":
            char = "'"
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for lowered in part.lower():
                out.append(lowered)
                origin.append(index)
    return "".join(out), origin


def fold_key(text: str) -> str:
    """The folded form of a dictionary entry (surrounding spaces dropped)."""
    return fold(text)[0].strip()


def span_in_original(origin: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Map a [start, end) span of a folded text back to the original code points."""
    if origin is None:
        return start, end
    return origin[start], origin[end - 1] + 1


def digit_projection(text: str) -> tuple[str, list[int]]:
    """(the ASCII digits of ``text`` alone, the position of each in ``text``)."""
    positions = [m.start() for m in _DIGIT.finditer(text)]
    return "".join(text[p] for p in positions), positions


def is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def number_span(text: str, positions: list[int], start: int, end: int) -> tuple[int, int] | None:
    """The original span of digits ``positions[start:end]`` if they form ONE number in ``text``: no
    letter or digit right before or after, and only spaces, dashes, dots or brackets between them."""
    first, last = positions[start], positions[end - 1]
    if first > 0 and is_word_char(text[first - 1]):
        return None
    if last + 1 < len(text) and is_word_char(text[last + 1]):
        return None
    for left, right in zip(positions[start:end - 1], positions[start + 1:end]):
        if right - left > 1 and not _NUMBER_GAP.fullmatch(text, left + 1, right):
            return None
    return first, last + 1
