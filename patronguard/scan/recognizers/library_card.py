"""LIBRARY_CARD: the library's card numbers (the configured pattern, Luhn-checked), plain, spaced or
dashed — and never an item barcode, whose format is the library's too. (Exact known card numbers of
any format come from the known-patron dictionary.)"""
from __future__ import annotations

import re

from .checksums import luhn_valid
from .pattern_base import LibraryPatternRecognizer


class LibraryCardRecognizer(LibraryPatternRecognizer):
    validation = "card pattern and Luhn check digit, not an item barcode"
    confirms = True

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = "".join(c for c in pattern_text if c.isdigit())
        settings = self.settings
        if re.fullmatch(settings.item_barcode_pattern, digits) and (
                not settings.item_barcode_luhn or luhn_valid(digits)):
            return False
        if not re.fullmatch(settings.card_pattern, digits):
            return False
        return luhn_valid(digits) if settings.card_luhn else None
