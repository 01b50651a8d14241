"""Scrub free text (loan notes, hold notes, fine descriptions…) of a patron's identifiers.

Removes the patron's own names, card number, email and phone numbers, plus
anything shaped like an email address, a phone number or a 14-digit card
number, whoever it belongs to. Replacements are bracketed labels, so staff
still see that something was there. Names of *other* people are not known
here (the Presidio scan of anything leaving the library catches those).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NAME_SEPARATORS = re.compile(r"[\s,]+")
NOT_DIGIT = re.compile(r"\D")
DIGIT = re.compile(r"\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD = re.compile(r"(?<!\d)\d{14}(?!\d)")
PHONE = re.compile(r"(?<![\w])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w])")


@dataclass(frozen=True)
class PatronIdentifiers:
    names: tuple[str, ...] = ()
    cardnumber: str | None = None
    email: str | None = None
    phone_digits: tuple[str, ...] = ()

    @classmethod
    def from_values(cls, firstname=None, surname=None, othernames=None, cardnumber=None, email=None,
                    phones=()) -> "PatronIdentifiers":
        names = tuple(sorted({part for value in (firstname, surname, othernames) if value
                              for part in NAME_SEPARATORS.split(str(value)) if len(part) >= 2}, key=len, reverse=True))
        digits = tuple(d for d in (NOT_DIGIT.sub("", str(p)) for p in phones if p) if len(d) >= 7)
        return cls(names, str(cardnumber) if cardnumber else None, str(email) if email else None, digits)


WORD = re.compile(r"[^\W\d_][\w'’-]*")
DIGIT_RUN = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")


def _mentions_phone(run: str, phones: tuple[str, ...]) -> bool:
    digits = NOT_DIGIT.sub("", run)
    return len(digits) >= 7 and any(p.endswith(digits[-10:]) or digits.endswith(p[-10:]) for p in phones)


def scrub_text(text: str | None, who: PatronIdentifiers) -> str | None:
    """The text with the patron's identifiers and generic contact details replaced.

    A handful of patterns compiled once, whatever the patron: names are matched
    word by word against the patron's name parts, phone numbers by their digits.
    """
    if not text:
        return text
    out = text
    # each replacement only where it can match (an email needs an "@", a phone or card number digits, a name
    # its letters): most free text names nobody, and this is run on every noted row of a retention run
    if "@" in out:
        if who.email:
            out = out.replace(who.email, "[email]")
        out = EMAIL.sub("[email]", out)
    if who.cardnumber:
        out = out.replace(who.cardnumber, "[card]")
    if DIGIT.search(out):
        out = CARD.sub("[card]", out)
        if who.phone_digits:
            out = DIGIT_RUN.sub(lambda m: "[phone]" if _mentions_phone(m.group(), who.phone_digits) else m.group(), out)
        out = PHONE.sub("[phone]", out)
    if who.names:
        lowered = out.lower()
        names = {n.lower() for n in who.names}
        if any(n in lowered for n in names):
            out = WORD.sub(lambda m: "[name]" if m.group().lower() in names else m.group(), out)
    return out
