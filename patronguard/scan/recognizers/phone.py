"""PHONE_NUMBER: US phone numbers by pattern (Presidio's ``PhoneRecognizer`` parses every candidate
with ``phonenumbers`` and is half the cost of a plain scan). Formatted numbers are findings; ten
digits run together need a context word. The library's own numbers are never findings."""
from __future__ import annotations

from .pattern_base import LibraryPatternRecognizer


def phone_key(text: str) -> str:
    """A US phone number's ten digits (a leading country code 1 dropped)."""
    digits = "".join(c for c in text if c.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


class UsPhoneRecognizer(LibraryPatternRecognizer):
    validation = "not one of the library's own numbers"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._allowed = {phone_key(v) for v in self.settings.allow_list if len(phone_key(v)) >= 10}

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = "".join(c for c in pattern_text.split("x")[0].split("ext")[0] if c.isdigit())
        return False if phone_key(digits)[:10] in self._allowed else None
