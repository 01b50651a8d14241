"""Requests no amount of suppression makes safe: refused up front, with the reason.

* **Direct identifiers** (borrowernumber, cardnumber, name, email, …) as a
  dimension or filter: a statistic broken down by patron is a list of patrons.
* **Title-level counts for small groups**: a breakdown by title, record or
  item (biblionumber, itemnumber, barcode, ISBN, …) together with a patron
  group (category, age band) or a filter on one is a reading history of that
  group — the case library confidentiality laws (e.g. Conn. Gen. Stat.
  §11-25(b)) are about. Title-level counts over all patrons are allowed; their
  small cells are suppressed like any other.
"""
from __future__ import annotations

import re
from typing import Iterable

from ..errors import InputError

DIRECT_IDENTIFIERS = frozenset({
    "borrowernumber", "borrower", "patron", "patronid", "cardnumber", "card", "userid", "username", "login",
    "name", "surname", "firstname", "othernames", "initials", "fullname", "email", "emailpro", "bemail",
    "phone", "phonepro", "mobile", "smsalertnumber", "address", "address2", "streetnumber", "zipcode",
    "postcode", "dateofbirth", "birthdate", "dob", "ssn", "password", "ip", "ipaddress",
})
TITLE_LEVEL = frozenset({
    "biblio", "biblionumber", "biblioitemnumber", "title", "item", "itemnumber", "barcode", "isbn", "issn",
    "author", "record", "callnumber", "itemcallnumber", "subject",
})
PATRON_GROUPS = frozenset({"patroncategory", "category", "categorycode", "ageband", "age", "sex", "gender"})


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def refuse_disclosive_request(dimensions: Iterable[str], filters: Iterable[str] = ()) -> None:
    """Raise :class:`InputError` (one line, the reason) if the breakdown is refused; else return.

    ``dimensions`` are the requested ``--by`` names, ``filters`` the names of
    ``--where`` dimensions (names only: the values are not needed and not shown).
    """
    dims, wheres = list(dimensions), list(filters)
    for name in dims + wheres:
        if _normalised(name) in DIRECT_IDENTIFIERS:
            raise InputError(f"refused: {name!r} is a direct patron identifier; statistics are never broken "
                             "down or filtered by patron")
    titles = [d for d in dims + wheres if _normalised(d) in TITLE_LEVEL]
    groups = [d for d in dims + wheres if _normalised(d) in PATRON_GROUPS]
    if titles and groups:
        raise InputError(f"refused: title-level counts ({titles[0]!r}) for a patron group ({groups[0]!r}) would "
                         "reveal what a small group reads; drop one of the two")
