"""US_STREET_ADDRESS: a house number, a capitalised street name and a suffix (St, Ave, Road…), an
optional unit. The library's own address is never a finding."""
from __future__ import annotations

import re

from .pattern_base import LibraryPatternRecognizer

#: USPS suffix abbreviations, so "12 Main Street" and "12 Main St." compare equal
_SUFFIXES = {"street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd", "lane": "ln",
             "drive": "dr", "court": "ct", "place": "pl", "terrace": "ter", "circle": "cir", "parkway": "pkwy",
             "highway": "hwy", "square": "sq", "trail": "trl", "crossing": "xing", "turnpike": "tpke",
             "heights": "hts", "expressway": "expy", "point": "pt", "apartment": "apt", "suite": "ste",
             "north": "n", "south": "s", "east": "e", "west": "w"}


def address_key(text: str) -> str:
    """A street address in one canonical form: lower case, USPS abbreviations, no punctuation."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return " ".join(_SUFFIXES.get(w, w) for w in words)


class UsStreetAddressRecognizer(LibraryPatternRecognizer):
    validation = "not the library's own address"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._allowed = [address_key(v) for v in self.settings.allow_list
                         if re.match(r"\s*\d", v) and not re.fullmatch(r"[\d\s().+-]+", v)]

    def validate_result(self, pattern_text: str) -> bool | None:
        key = address_key(pattern_text)
        return False if any(key == a or a.startswith(key + " ") for a in self._allowed) else None
