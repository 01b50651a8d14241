"""Whose data is a finding? The known patrons by exact card number, email, phone digits, street address and
full name — to tell a finding about a patron the decision released from one about anyone else.

The scanner says *that* a cell holds patron data; the gate must also know *whose*, and only exactly: a
finding is attributed to the patrons whose card, email (obfuscated forms written plainly), phone (its
last ten digits), street address or full name (first and surname, with or without the middle name, in
either order; case, accents and hyphens folded) it is. Anything less — a first name or a surname alone,
a birth date, an email or number of no known patron — is attributed to no one, and so blocks a share.
This is a plain lookup table over the ILS's patrons: no library does it (the scanner's automaton finds
spans; it does not say to whom they belong). Held in memory only, like the known patrons.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

from ..scan.known import KnownPatron
from ..scan.recognizers.email import plain_email
from ..scan.recognizers.text_forms import fold_key

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")
#: a phone number is compared by its last ten digits (a leading 1 or +1 dropped)
PHONE_DIGITS = 10


def _card_key(text: str) -> str:
    return _NOT_ALNUM.sub("", text).upper()


def _phone_key(text: str) -> str:
    digits = _NOT_DIGIT.sub("", text)
    return digits[-PHONE_DIGITS:] if len(digits) >= 7 else ""


def _words_key(text: str) -> tuple[str, ...]:
    return tuple(sorted(_WORD.findall(fold_key(text))))


def _address_key(text: str) -> str:
    return " ".join(_WORD.findall(fold_key(text)))


def _name_keys(patron: KnownPatron) -> Iterable[tuple[str, ...]]:
    if not (patron.firstname and patron.surname):
        return
    yield _words_key(f"{patron.firstname} {patron.surname}")
    if patron.middlename:
        yield _words_key(f"{patron.firstname} {patron.middlename} {patron.surname}")
        yield _words_key(f"{patron.firstname} {patron.middlename[0]} {patron.surname}")


class PatronIndex:
    """Exact lookups from a matched text to the borrowernumbers it belongs to."""

    def __init__(self, known: Iterable[KnownPatron]) -> None:
        self._cards: dict[str, set[int]] = defaultdict(set)
        self._emails: dict[str, set[int]] = defaultdict(set)
        self._phones: dict[str, set[int]] = defaultdict(set)
        self._addresses: dict[str, set[int]] = defaultdict(set)
        self._names: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for patron in known:
            number = patron.borrowernumber
            if number is None:
                continue
            if patron.cardnumber and _card_key(patron.cardnumber):
                self._cards[_card_key(patron.cardnumber)].add(number)
            if patron.email:
                self._emails[plain_email(patron.email)].add(number)
            if patron.phone and _phone_key(patron.phone):
                self._phones[_phone_key(patron.phone)].add(number)
            if patron.address and _address_key(patron.address):
                self._addresses[_address_key(patron.address)].add(number)
            for key in _name_keys(patron):
                self._names[key].add(number)

    def owners(self, text: str) -> frozenset[int]:
        """The patrons ``text`` (one finding's matched text) is exactly the card, email, phone, address or
        full name of; empty when it is no one's for certain."""
        found: set[int] = set()
        found |= self._cards.get(_card_key(text), set())
        found |= self._emails.get(plain_email(text), set())
        phone = _phone_key(text)
        if phone:
            found |= self._phones.get(phone, set())
        found |= self._addresses.get(_address_key(text), set())
        words = _words_key(text)
        if len(words) >= 2:
            found |= self._names.get(words, set())
        return frozenset(found)
