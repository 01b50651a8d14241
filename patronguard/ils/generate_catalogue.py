"""Branches, patron categories, system preferences and the catalogue (biblio + items).

Items get 14-digit Codabar barcodes with a Luhn check digit (as printed by
many Koha sites), an item type, a collection code and a shelving location.
How often each item circulates follows a Zipf-like popularity over titles,
capped so that no copy is wanted more often than it could be lent.
"""
from __future__ import annotations

import numpy as np

from .generate_names import LIBRARY_DOMAIN, Identities
from .generate_util import Calendar, luhn_numbers, objects

BRANCH_CODES = ["MAIN", "EAST", "WEST", "NORTH"]

#: categorycode, description, enrolmentperiod (months), upperagelimit, dateofbirthrequired, category_type
CATEGORIES = [
    ("ANON", "Anonymised circulation history", None, None, None, "X"),
    ("J", "Juvenile", 60, 16, None, "C"),
    ("PT", "Patron", 36, None, 16, "A"),
    ("SR", "Senior citizen", 60, None, 65, "A"),
    ("ST", "Staff", 120, None, 18, "S"),
]

ITYPES = np.array(["BK", "DVD", "CD", "MAG", "LP", "AB"], dtype=object)
ITYPE_SHARE = [0.72, 0.10, 0.05, 0.05, 0.04, 0.04]
#: fine per day and maximum, by item type
FINE_RATE = {"BK": (0.25, 5.0), "DVD": (1.0, 10.0), "CD": (1.0, 10.0), "MAG": (0.25, 5.0),
             "LP": (0.25, 5.0), "AB": (0.25, 5.0)}
PRICE_RANGE = {"BK": (8, 45), "DVD": (15, 30), "CD": (10, 20), "MAG": (4, 9), "LP": (20, 40), "AB": (25, 60)}


class Catalogue:
    """Biblios and items (index ``i`` is biblionumber/itemnumber ``i + 1``)."""


def branch_rows(ids: Identities) -> list[tuple]:
    rows = []
    phones = ids.phones(len(BRANCH_CODES))
    for k, code in enumerate(BRANCH_CODES):
        town = ids.pools.towns[k]
        rows.append((code, f"{town} Public Library", f"{100 + 37 * k} {ids.pools.streets[k]}", town,
                     ids.pools.zipcodes[k][0], phones[k], f"{code.lower()}@{LIBRARY_DOMAIN}"))
    return rows


def preference_rows(anonymous_borrowernumber: int, version: str) -> list[tuple]:
    """Koha's ``Version`` (which release line this is), ``AnonymousPatron`` and the logging and privacy
    preferences that decide where patron data accumulates."""
    return [
        ("Version", version, "", "The Koha database version. WARNING: Do not change this value manually, "
         "it is maintained by the webinstaller", None),
        ("AnonymousPatron", str(anonymous_borrowernumber), "",
         "Set the identifier (borrowernumber) of the anonymous patron (used for statistics and suggestions)",
         "Integer"),
        ("BorrowersLog", "1", "", "If ON, log edit/create/delete actions on patron data", "YesNo"),
        ("EnableOpacSearchHistory", "1", "YesNo", "Enable or disable opac search history", "YesNo"),
        ("IssueLog", "1", "", "If ON, log checkout activity", "YesNo"),
        ("ILLModule", "1", "", "If ON, enables the interlibrary loans module.", "YesNo"),
        ("OPACPrivacy", "1", "", "if ON, allows patrons to define their privacy rules (reading history)",
         "YesNo"),
        ("Pseudonymization", "1", "", "If enabled patrons and transactions will be copied in a separate table "
         "for statistics purpose", "YesNo"),
        ("ReturnLog", "1", "", "If ON, enables the circulation (returns) log", "YesNo"),
        ("StoreLastBorrower", "1", "", "If ON, the last borrower to return an item will be stored in "
         "items.last_returned_by", "YesNo"),
    ]


def build_catalogue(loans: int, cal: Calendar, ids: Identities, rng: np.random.Generator,
                    library_code: int) -> Catalogue:
    c = Catalogue()
    n_b = max(30, loans // 18)
    rank = rng.permutation(n_b)
    popularity = 1.0 / (rank + 8.0) ** 0.9
    copies = np.ones(n_b, dtype=np.int64)
    best = rank < max(1, n_b // 20)
    copies[best] += rng.integers(1, 6, int(best.sum()))
    copies[~best] += (rng.random(int((~best).sum())) < 0.08).astype(np.int64)

    c.n_biblio = n_b
    c.title = ids.titles(n_b)
    c.subtitle = np.where(rng.random(n_b) < 0.25, objects(ids.phrases(n_b, 2, 5)), None)
    sex = ids.sexes(n_b)
    first, last = ids.first_names(sex), ids.surnames(n_b)
    c.author = objects([f"{s}, {f}" for f, s in zip(first.tolist(), last.tolist())])
    c.copyrightdate = cal.until.year - np.minimum(rng.geometric(0.08, n_b) - 1, 80)
    itype_b = ITYPES[rng.choice(len(ITYPES), size=n_b, p=ITYPE_SHARE)]

    item_b = np.repeat(np.arange(n_b), copies)
    n_i = len(item_b)
    c.n_items = n_i
    c.biblio = item_b
    c.itype = itype_b[item_b]
    ccode_book = objects(["FIC", "NFIC", "JFIC", "JNF"])[rng.choice(4, size=n_b, p=[0.45, 0.3, 0.15, 0.1])]
    ccode_b = np.select([itype_b == "DVD", itype_b == "CD", itype_b == "MAG"], ["FILM", "MUSIC", "PER"], ccode_book)
    c.ccode = ccode_b[item_b]
    location = np.select(
        [(c.ccode == "JFIC") | (c.ccode == "JNF"), (c.itype == "DVD") | (c.itype == "CD"), c.itype == "MAG",
         c.itype == "LP"],
        ["CHILD", "AV", "PERIO", "LGPRINT"], "GEN").astype(object)
    c.location = np.where((location == "GEN") & (rng.random(n_i) < 0.1), "NEW", location)
    c.callnumber = _callnumbers(c, last, rng)
    c.homebranch = rng.choice(len(BRANCH_CODES), size=n_i, p=[0.4, 0.2, 0.2, 0.2])
    low = np.array([PRICE_RANGE[t][0] for t in c.itype.tolist()])
    high = np.array([PRICE_RANGE[t][1] for t in c.itype.tolist()])
    c.price = np.round(low + rng.random(n_i) * (high - low), 2)
    c.barcode = objects(luhn_numbers(f"3{library_code:04d}", np.cumsum(rng.integers(1, 5, n_i))))
    c.accessioned = rng.integers(-15 * 365, cal.days, n_i)  # pulled back to the first loan later
    c.itemnotes = np.where((c.itype == "DVD") & (rng.random(n_i) < 0.3), "Disc in separate case.", None)

    weight = popularity[item_b] / copies[item_b]
    # No copy should be wanted more than ~80 % of the time it could possibly be lent.
    cap = max(cal.days / 18.0 * 0.8, 1.0)
    for _ in range(8):
        expected = loans * weight / weight.sum()
        if expected.max() <= cap * 1.01:
            break
        weight = np.minimum(weight, cap * weight.sum() / loans)
    c.weight = weight / weight.sum()
    return c


def _callnumbers(c: Catalogue, author_surname: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n_i = c.n_items
    cutter = [s[:3].upper() for s in author_surname[c.biblio].tolist()]
    dewey = rng.integers(0, 1000, n_i).tolist()
    decimal = rng.integers(0, 100, n_i).tolist()
    out = []
    for cc, it, cut, d, dec in zip(c.ccode.tolist(), c.itype.tolist(), cutter, dewey, decimal):
        if it == "DVD":
            out.append(f"DVD {cut}")
        elif it == "CD":
            out.append(f"CD {cut}")
        elif it == "MAG":
            out.append(f"PER {cut}")
        elif cc in ("FIC", "JFIC"):
            out.append(f"{'J ' if cc == 'JFIC' else ''}{'LP ' if it == 'LP' else ''}FIC {cut}")
        else:
            out.append(f"{'J ' if cc == 'JNF' else ''}{d:03d}.{dec:02d} {cut}")
    return objects(out)
