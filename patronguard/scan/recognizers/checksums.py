"""Check digits that tell a library's numbers apart: Luhn (Koha Codabar cards and item barcodes),
ISBN-10, ISBN-13 and ISSN. The `python-stdnum` package does these too; four ten-line functions are
not worth a dependency the project does not otherwise have."""
from __future__ import annotations


def compact_digits(text: str) -> str:
    """The digits of ``text`` (an ``X`` check character kept), separators dropped."""
    return "".join(c for c in text if c.isdigit() or c in "xX").upper()


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def isbn10_valid(code: str) -> bool:
    if len(code) != 10 or not code[:9].isdigit() or not (code[9].isdigit() or code[9] == "X"):
        return False
    total = sum((10 - i) * int(c) for i, c in enumerate(code[:9]))
    total += 10 if code[9] == "X" else int(code[9])
    return total % 11 == 0


def isbn13_valid(code: str) -> bool:
    if len(code) != 13 or not code.isdigit() or code[:3] not in ("978", "979"):
        return False
    return sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(code)) % 10 == 0


def issn_valid(code: str) -> bool:
    if len(code) != 8 or not code[:7].isdigit() or not (code[7].isdigit() or code[7] == "X"):
        return False
    total = sum((8 - i) * int(c) for i, c in enumerate(code[:7]))
    check = (11 - total % 11) % 11
    return code[7] == ("X" if check == 10 else str(check))


def is_bibliographic_number(text: str) -> bool:
    """An ISBN-10/13 or ISSN with a valid check digit."""
    code = compact_digits(text)
    return isbn10_valid(code) or isbn13_valid(code) or issn_valid(code)
