"""Masked previews: what every report, log line and error shows instead of a value.

"Jane Doe" → "J*** D**"; "jane.doe@gmail.com" → "j***@g****.com"; digits keep the last two at most
("21234-5678-90123" → "*****-****-***23"); numbers of four digits or fewer are masked whole.
"""
from __future__ import annotations

import re

_EMAIL = re.compile(r"^\s*([^@\s]+)@([^@\s]+?)((?:\.[A-Za-z]{2,})?)\s*$")
_WORD = re.compile(r"[^\W\d_]+")


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return "*" if len(word) == 1 else word[0] + "*" * (len(word) - 1)


def _mask_digits(text: str) -> str:
    digit_positions = [i for i, c in enumerate(text) if c.isdigit()]
    keep = set(digit_positions[-2:]) if len(digit_positions) > 4 else set()
    return "".join("*" if c.isdigit() and i not in keep else c for i, c in enumerate(text))


def mask_preview(text: str) -> str:
    """A preview of ``text`` safe to print: the first letter of each word, the last two digits of a
    number of more than four digits, an email's first letters and its top-level domain."""
    email = _EMAIL.match(text)
    if email:
        local, domain, suffix = email.groups()
        return f"{local[0]}***@{domain[0]}{'*' * max(len(domain) - 1, 1)}{suffix}"
    return _mask_digits(_WORD.sub(_mask_word, text))
