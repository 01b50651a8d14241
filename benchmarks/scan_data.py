"""Synthetic, seeded inputs of the scanner benchmark (``benchmarks/scan.py``): known patrons, a loan
export with a few percent of note cells holding their data, and a statistics export with none.

Faker gives the pools (first names, surnames, titles, cities); the rows are drawn from them with one
seeded ``random.Random``, which is fast enough for a million rows. Nothing here is real.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from faker import Faker

from patronguard.scan.known import CSV_HEADERS, KnownPatron

BRANCHES = ["Central", "Eastside", "Westside", "Northfield", "Harbor", "Riverside", "Oakwood", "Hillcrest"]
ITEM_TYPES = ["BOOK", "DVD", "AUDIOBOOK", "MAGAZINE", "EBOOK", "CD", "KIT", "LARGE_PRINT"]
PATRON_CATEGORIES = ["ADULT", "CHILD", "TEEN", "SENIOR", "STAFF", "INSTITUTION", "STUDENT"]
STREETS = ["Oak", "Maple", "Cedar", "Elm", "Pine", "Willow", "Chestnut", "Hillside", "Lakeview", "Ridgewood",
           "Sunset", "Highland", "Orchard", "Meadow", "Birch", "Walnut", "Spruce", "Laurel", "Briarcliff"]
SUFFIXES = ["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Boulevard"]
LOAN_HEADER = ["loan_id", "item_barcode", "title", "author", "due_date", "return_date", "branch", "note"]
STATS_HEADER = ["date", "branch", "item_type", "patron_category", "checkouts", "renewals", "holds_filled"]
#: note cells without patron data: routine remarks and decoys (ISBNs, call numbers, dates, first-name words)
ROUTINE_NOTES = ["Renewed at the desk", "Returned via book drop", "Damaged spine, sent to mending", "Claims returned",
                 "Grace period applied", "May book sale donation", "Will be withdrawn after return",
                 "Water damage on cover", "Missing disc 2", "Fine waived", "Interlibrary loan", "Auto-renewed",
                 "Hold shelf expired", "Returned to wrong branch", "Lost item replaced"]
#: note cells with a patron's data ({} is the value; the form varies)
PII_NOTES = {
    "full name": ["Patron {} called about this item", "{} asked to renew", "Hold for {} at the desk",
                  "Spoke with {} about overdue items"],
    "surname first": ["Reserved for {}", "{} — paid fine in cash"],
    "card": ["Card {} left at the desk", "Library card {} found in book"],
    "email": ["Overdue notice bounced: {}", "Patron asked to email {}"],
    "phone": ["Left voicemail at {}", "Call patron at {} when ready"],
    "address": ["Mailed notice to {}", "Patron moved, new address {}"],
}


def luhn_complete(stem: str) -> str:
    """``stem`` plus its Luhn check digit."""
    total = 0
    for i, char in enumerate(reversed(stem)):
        d = int(char)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return stem + str((10 - total % 10) % 10)


def make_known_patrons(count: int, seed: int = 11) -> list[KnownPatron]:
    """``count`` synthetic patrons, each name unique; the first ``n`` are the same for any count >= n."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = sorted({fake.first_name() for _ in range(20_000)})
    lasts = sorted({fake.last_name() for _ in range(20_000)})
    rng = random.Random(seed)
    cities = [fake.city() for _ in range(200)]
    domains = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]
    seen: set[tuple[str, str]] = set()
    patrons: list[KnownPatron] = []
    born_from = dt.date(1935, 1, 1).toordinal()
    while len(patrons) < count:
        first, last = rng.choice(firsts), rng.choice(lasts)
        if (first, last) in seen:
            continue
        seen.add((first, last))
        n = len(patrons)
        middle = rng.choice(firsts) if rng.random() < 0.3 else None
        phone = f"{rng.randint(2, 9)}{rng.randint(10, 99)}{rng.randint(2, 9)}{rng.randint(10, 99)}{rng.randrange(10**4):04d}"
        patrons.append(KnownPatron(
            cardnumber=luhn_complete(f"21234{n:08d}"), firstname=first, middlename=middle, surname=last,
            email=f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(domains)}".lower().replace("'", ""),
            phone=phone, address=f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}",
            city=rng.choice(cities), zipcode=f"{rng.randint(10000, 14999)}",
            dateofbirth=dt.date.fromordinal(born_from + rng.randrange(365 * 80)).isoformat()))
    return patrons


def write_known_patrons(path: Path, patrons: list[KnownPatron]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADERS)
        for p in patrons:
            writer.writerow([getattr(p, name) or "" for name in CSV_HEADERS])


def _pii_note(rng: random.Random, patron: KnownPatron) -> str:
    form = rng.choice(list(PII_NOTES))
    template = rng.choice(PII_NOTES[form])
    if form == "full name":
        value = f"{patron.firstname} {patron.surname}"
        value = value.upper() if rng.random() < 0.2 else value
    elif form == "surname first":
        value = f"{patron.surname}, {patron.firstname}"
    elif form == "card":
        c = patron.cardnumber
        value = rng.choice([c, f"{c[:1]} {c[1:5]} {c[5:9]} {c[9:]}", f"{c[:5]}-{c[5:9]}-{c[9:]}"])
    elif form == "email":
        value = patron.email
    elif form == "phone":
        d = patron.phone
        value = rng.choice([f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}"])
    else:
        value = patron.address
    return template.format(value)


def write_loan_export(path: Path, rows: int, patrons: list[KnownPatron], seed: int = 11,
                      pii_rate: float = 0.03) -> int:
    """A loan export of ``rows`` rows (:data:`LOAN_HEADER`); returns how many notes hold a patron's data.

    Items (14-digit Luhn barcodes starting 3), titles and authors come from pools, so values repeat
    as they do in an ILS; authors are Faker names (some are also patrons' names: decoys in a
    bibliographic column). About 30 % of loans have a note; ``pii_rate`` of all rows a note with a
    known patron's name, card, email, phone or address."""
    fake = Faker("en_US")
    fake.seed_instance(seed + 1)
    rng = random.Random(seed + 1)
    items = [luhn_complete(f"31234{rng.randrange(10**8):08d}") for _ in range(max(1, rows // 3))]
    titles = [fake.catch_phrase().title() for _ in range(max(1, rows // 12))]
    authors = [f"{fake.last_name()}, {fake.first_name()}" for _ in range(max(1, rows // 30))]
    first_day = dt.date(2024, 1, 1).toordinal()
    planted = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOAN_HEADER)
        for i in range(rows):
            issued = first_day + rng.randrange(700)
            due = dt.date.fromordinal(issued + 21)
            returned = "" if rng.random() < 0.1 else dt.date.fromordinal(issued + rng.randrange(1, 40)).isoformat()
            draw = rng.random()
            if draw < pii_rate:
                note = _pii_note(rng, rng.choice(patrons))
                planted += 1
            elif draw < 0.3:
                note = rng.choice(ROUTINE_NOTES)
                if rng.random() < 0.2:
                    note += f", call number {rng.randint(100, 999)}.{rng.randint(1, 99)} {rng.choice(authors)[:3].upper()}"
            else:
                note = ""
            writer.writerow([1_000_000 + i, rng.choice(items), rng.choice(titles), rng.choice(authors),
                             due.isoformat(), returned, rng.choice(BRANCHES), note])
    return planted


def write_stats_export(path: Path, rows: int, seed: int = 11) -> None:
    """A statistics export of ``rows`` rows (:data:`STATS_HEADER`): dates, codes and counts, no patron data."""
    rng = random.Random(seed + 2)
    days = [dt.date.fromordinal(dt.date(2020, 1, 1).toordinal() + d).isoformat() for d in range(2000)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(STATS_HEADER)
        choice, randint = rng.choice, rng.randint
        writer.writerows([choice(days), choice(BRANCHES), choice(ITEM_TYPES), choice(PATRON_CATEGORIES),
                          randint(0, 400), randint(0, 60), randint(0, 40)] for _ in range(rows))
