"""Free-text scrubbing: the patron's own identifiers and generic contact details go, the rest stays."""
from __future__ import annotations

import pytest

from patronguard.retention.scrub import PatronIdentifiers, scrub_text

JANE = PatronIdentifiers.from_values("Jane Ann", "Doe-Smith", None, "A2382001", "jane.doe@example.org",
                                     ("(860) 555-0142", None, "+1 203 555 0199"))


@pytest.mark.parametrize("text, expected", [
    ("Jane called about a lost book", "[name] called about a lost book"),
    ("DOE-SMITH, JANE paid cash", "[name], [name] paid cash"),
    ("spoke with ann", "spoke with [name]"),
    ("card A2382001 replaced", "card [card] replaced"),
    ("mail jane.doe@example.org or x.y@z.example.com", "mail [email] or [email]"),
    ("call 860.555.0142 after 5", "call [phone] after 5"),
    ("call 8605550142", "call [phone]"),
    ("her other number 203-555-0199", "her other number [phone]"),
    ("someone's number (212) 555-0100", "someone's number [phone]"),
    ("card 23820000123456 found", "card [card] found"),
    ("Damaged: water, 2 pages", "Damaged: water, 2 pages"),
    ("Janet and Doerte are not her", "Janet and Doerte are not her"),
    ("", ""),
    (None, None),
])
def test_scrub_text(text, expected):
    assert scrub_text(text, JANE) == expected


def test_a_patron_with_no_identifiers_keeps_ordinary_text():
    nobody = PatronIdentifiers.from_values()
    assert scrub_text("Overdue: The Hobbit 31234000012345", nobody) == "Overdue: The Hobbit [card]"
    assert scrub_text("Lost item Jane", nobody) == "Lost item Jane"
