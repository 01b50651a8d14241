"""EMAIL_ADDRESS: email addresses, also written to dodge scrapers (``jane dot doe at gmail dot com``,
``x [at] y [dot] org``, ``x(at)y.org``); the domain must end in a real public suffix (tldextract on
its bundled list, never fetched). The library's own addresses are never findings."""
from __future__ import annotations

import re
from functools import lru_cache

import tldextract

from .pattern_base import LibraryPatternRecognizer

_AT = re.compile(r"\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+", re.IGNORECASE)
_DOT = re.compile(r"\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+", re.IGNORECASE)


@lru_cache(maxsize=1)
def _suffixes() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def plain_email(text: str) -> str:
    """An (obfuscated) email address written plainly, lower case."""
    if "@" not in text:
        text = _AT.sub("@", text, count=1)
    return _DOT.sub(".", text).lower().strip()


class EmailAddressRecognizer(LibraryPatternRecognizer):
    validation = "domain ends in a public suffix, not one of the library's own addresses"
    confirms = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._allowed = {plain_email(v) for v in self.settings.allow_list if "@" in v}

    def validate_result(self, pattern_text: str) -> bool | None:
        address = plain_email(pattern_text)
        if address in self._allowed or address.count("@") != 1:
            return False
        parts = _suffixes()(address.split("@")[1])
        return bool(parts.suffix and parts.domain)
