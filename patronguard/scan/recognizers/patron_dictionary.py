"""The known-patron dictionary: ONE Aho-Corasick automaton (pyahocorasick) over every known patron's
names (both orders, with and without the middle name or initial, and each name alone), email, phone,
street address and card number.

Names, emails and addresses are matched in the folded text (case, accents, hyphens, spacing: see
:mod:`.text_forms`); phones and card numbers in the text's digits-only projection, so one entry
matches "(914) 555-0100", "914.555.0100" and "9145550100". Matches count on word boundaries only and
point at the original code points. Building is linear in the number of patrons; a query is linear in
the text, whatever the number of patrons (Presidio's ``deny_list`` builds one regex alternation:
68 ms a cell at 100,000 names).
"""
from __future__ import annotations

from dataclasses import dataclass
import re
from bisect import bisect_right
from typing import Iterable, Sequence

import ahocorasick

from ..known import KnownPatron
from .phone import phone_key
from .street_address import _SUFFIXES
from .text_forms import _ASCII_FOLD, digit_projection, fold, fold_key, number_span, span_in_original

FULL_NAME = "full name"
FULL_NAME_SURNAME_FIRST = "full name, surname first"
FIRST_NAME = "first name"
SURNAME = "surname"
EMAIL = "email"
PHONE = "phone"
ADDRESS = "street address"
CARD = "card number"
#: kinds matched in the digits-only projection
DIGIT_KINDS = frozenset({PHONE, CARD})
NAME_KINDS = frozenset({FULL_NAME, FULL_NAME_SURNAME_FIRST, FIRST_NAME, SURNAME})
PARTIAL_KINDS = frozenset({FIRST_NAME, SURNAME})
#: which kind a hit is reported as when one entry is several (a full name beats a name alone)
_PRECEDENCE = (CARD, EMAIL, PHONE, ADDRESS, FULL_NAME, FULL_NAME_SURNAME_FIRST, FIRST_NAME, SURNAME)
_EXPANSIONS = {short: full for full, short in reversed(list(_SUFFIXES.items()))}
_BIT = {kind: 1 << i for i, kind in enumerate(_PRECEDENCE)}
#: the kind reported for every combination of kinds one entry may be (the first in precedence)
_SPACES = re.compile(" {2,}")
_SEPARATOR = re.compile("\x00")
_NOT_DIGIT = re.compile("[^0-9\x00]+")
_LENGTH_SHIFT = 16
_BITS_MASK = (1 << _LENGTH_SHIFT) - 1
_DIGIT_BITS = _BIT[PHONE] | _BIT[CARD]
_KIND_OF_BITS = {bits: next(k for k in _PRECEDENCE if bits & _BIT[k]) for bits in range(1, 1 << len(_PRECEDENCE))}


@dataclass(frozen=True, slots=True)
class DictionaryHit:
    """One dictionary entry found in a text: its span (original code points), what kind of entry it
    is, and its folded key (kept in memory only, to pair a first name with a surname)."""

    start: int
    end: int
    kind: str
    key: str
    first_name: bool = False
    surname: bool = False


def _address_variants(address: str) -> set[str]:
    words = fold_key(address).replace(",", " ").split()
    abbreviated = [_SUFFIXES.get(w.rstrip("."), w) for w in words]
    expanded = [_EXPANSIONS.get(w.rstrip("."), w) for w in words]
    return {" ".join(words), " ".join(abbreviated), " ".join(expanded)}


def _name_keys(patron: KnownPatron) -> Iterable[tuple[str, str]]:
    first = fold_key(patron.firstname) if patron.firstname else ""
    last = fold_key(patron.surname) if patron.surname else ""
    if len(first) > 1:
        yield first, FIRST_NAME
    if len(last) > 1:
        yield last, SURNAME
    if not (first and last):
        return
    yield f"{first} {last}", FULL_NAME
    yield f"{last}, {first}", FULL_NAME_SURNAME_FIRST
    middle = fold_key(patron.middlename) if patron.middlename else ""
    if middle:
        for m in (middle, middle[0] + ".") if len(middle) > 1 else (middle, middle + "."):
            yield f"{first} {m} {last}", FULL_NAME
            yield f"{last}, {first} {m}", FULL_NAME_SURNAME_FIRST


class PatronDictionary:
    """The automaton over the known patrons, and the (first name, surname) pairs they form."""

    def __init__(self, patrons: Iterable[KnownPatron]) -> None:
        entries: dict[str, int] = {}          # key -> bit set of its kinds
        self.name_pairs: set[tuple[str, str]] = set()
        self.birth_dates: set[str] = set()
        self.size = 0
        for patron in patrons:
            self.size += 1
            first = last = None
            for key, kind in _name_keys(patron):
                entries[key] = entries.get(key, 0) | _BIT[kind]
                if kind == FIRST_NAME:
                    first = key
                elif kind == SURNAME:
                    last = key
            if first and last:
                self.name_pairs.add((first, last))
            if patron.email and "@" in patron.email:
                key = fold_key(patron.email)
                entries[key] = entries.get(key, 0) | _BIT[EMAIL]
            if patron.phone:
                key = phone_key(patron.phone)
                if len(key) == 10:
                    entries[key] = entries.get(key, 0) | _BIT[PHONE]
            if patron.address and any(c.isdigit() for c in patron.address):
                for key in _address_variants(patron.address):
                    entries[key] = entries.get(key, 0) | _BIT[ADDRESS]
            if patron.cardnumber:
                card = patron.cardnumber.strip()
                key = card if card.isdigit() else fold_key(card)
                if len(key) >= 5:
                    entries[key] = entries.get(key, 0) | _BIT[CARD]
            if patron.dateofbirth:
                self.birth_dates.add(patron.dateofbirth)
        # values are ints (the key's length and its kinds' bits): far faster to store than tuples
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        add = self.automaton.add_word
        for key, bits in entries.items():
            add(key, (len(key) << _LENGTH_SHIFT) | bits)
        if entries:
            self.automaton.make_automaton()
        self._empty = not entries

    def find(self, text: str) -> list[DictionaryHit]:
        """Every entry found in ``text`` on word boundaries (overlapping ones included)."""
        if self._empty:
            return []
        hits: list[DictionaryHit] = []
        folded, origin = fold(text)
        size = len(folded)
        first_bit, surname_bit = _BIT[FIRST_NAME], _BIT[SURNAME]
        for last, value in self.automaton.iter(folded):
            length, bits = value >> _LENGTH_SHIFT, value & _BITS_MASK
            start, end = last - length + 1, last + 1
            key = folded[start:end]
            kind = _KIND_OF_BITS[bits]
            if kind in DIGIT_KINDS and key.isdigit():
                continue
            before = folded[start - 1] if start else " "
            after = folded[end] if end < size else " "
            if before.isalnum() or after.isalnum():
                continue
            if kind == EMAIL and (before in "._%+-" or (after == "." and end + 1 < size and folded[end + 1].isalnum())):
                continue
            start, end = span_in_original(origin, start, end)
            hits.append(DictionaryHit(start, end, kind, key, bool(bits & first_bit), bool(bits & surname_bit)))
        digits, positions = digit_projection(text)
        if len(digits) >= 5:
            for last, value in self.automaton.iter(digits):
                bits = value & _DIGIT_BITS
                if not bits:
                    continue
                length = value >> _LENGTH_SHIFT
                span = number_span(text, positions, last - length + 1, last + 1)
                if span:
                    hits.append(DictionaryHit(span[0], span[1], _KIND_OF_BITS[bits], digits[last - length + 1:last + 1]))
        return hits

    def rows_with_entries(self, values: Sequence[str]) -> set[int]:
        """The positions of the ``values`` that may hold an entry: one automaton pass over the whole
        column folded, one over its digits (a superset of the values :meth:`find` finds anything in:
        name boundaries are checked, number boundaries are left to :meth:`find`)."""
        if self._empty or not values:
            return set()
        separator = "\x00"
        if any(separator in v for v in values):
            return {i for i, v in enumerate(values) if self.find(v)}
        # a value of digits alone holds no name, email or address (those entries all have a non-digit)
        text_rows = [i for i, v in enumerate(values) if not v.isdigit()]
        texts = [values[i] for i in text_rows]
        joined_text = separator.join(texts)
        if joined_text.isascii():
            folded = _SPACES.sub(" ", joined_text.lower().translate(_ASCII_FOLD))
        else:
            folded = _SPACES.sub(" ", separator.join(v.lower().translate(_ASCII_FOLD) if v.isascii() else fold(v)[0]
                                                      for v in texts))
        rows: set[int] = set()
        breaks = [m.start() for m in _SEPARATOR.finditer(folded)]
        size = len(folded)
        for last, value in self.automaton.iter(folded):
            length, bits = value >> _LENGTH_SHIFT, value & _BITS_MASK
            start = last - length + 1
            if (start and folded[start - 1].isalnum()) or (last + 1 < size and folded[last + 1].isalnum()):
                continue
            rows.add(text_rows[bisect_right(breaks, start)])
        joined = separator.join(values)
        digits = _NOT_DIGIT.sub("", joined)
        breaks = [m.start() for m in _SEPARATOR.finditer(digits)]
        for last, value in self.automaton.iter(digits):
            if value & _DIGIT_BITS:
                rows.add(bisect_right(breaks, last))
        return rows
