"""A seeded, labelled corpus for the leak scanner (tests/test_scan_quality.py): known patrons, cells
with planted PII in many forms — each labelled (start, end, entity, form) — and decoy cells that
must give no finding at all. Everything is synthetic (Faker, seeded)."""
from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field

from faker import Faker

from patronguard.scan.known import KnownPatron
from patronguard.scan.recognizers.checksums import luhn_valid
from patronguard.scan.settings import ScanSettings

LIBRARY_PHONE, LIBRARY_EMAIL, LIBRARY_ADDRESS = "(914) 555-0199", "info@westchesterlibrary.org", "100 Main Street"
SETTINGS = ScanSettings(allow_list=(LIBRARY_PHONE, LIBRARY_EMAIL, LIBRARY_ADDRESS))
STREET_SUFFIXES = [("Street", "St."), ("Avenue", "Ave"), ("Road", "Rd"), ("Lane", "Ln"), ("Drive", "Dr"),
                   ("Court", "Ct"), ("Place", "Pl"), ("Boulevard", "Blvd"), ("Terrace", "Ter"), ("Way", "Way")]
STREET_NAMES = ["Oak", "Maple", "Cedar", "Elm", "Pine", "Willow", "Chestnut", "Hillside", "Lakeview", "Ridgewood",
                "Sunset", "Highland", "Orchard", "Meadow", "Birch", "Walnut", "Spruce", "Laurel", "Briarcliff"]
ACCENTED = [("Tomás", "Núñez"), ("José", "Peña"), ("Zoë", "Müller"), ("Renée", "Lefèvre"), ("Chloé", "Gómez"),
            ("Inés", "Ibáñez"), ("Noël", "Brontë"), ("Joaquín", "Sánchez"), ("Léa", "Dubé"), ("Ramón", "Álvarez")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@dataclass(frozen=True)
class Label:
    start: int
    end: int
    entity: str
    form: str


@dataclass
class Cell:
    column: str
    text: str
    labels: list[Label] = field(default_factory=list)
    decoy: str | None = None      # the decoy kind: this cell must give no finding


@dataclass
class Corpus:
    patrons: list[KnownPatron]
    cells: list[Cell]

    def columns(self) -> dict[str, list[Cell]]:
        grouped: dict[str, list[Cell]] = {}
        for cell in self.cells:
            grouped.setdefault(cell.column, []).append(cell)
        return grouped


def luhn_complete(stem: str) -> str:
    return next(stem + d for d in "0123456789" if luhn_valid(stem + d))


def card_number(rng: random.Random) -> str:
    return luhn_complete("2" + "1234" + f"{rng.randrange(10**8):08d}")


def item_barcode(rng: random.Random) -> str:
    return luhn_complete("3" + "1234" + f"{rng.randrange(10**8):08d}")


def phone_digits(rng: random.Random) -> str:
    while True:
        area, exchange = f"{rng.randint(2, 9)}{rng.randint(0, 99):02d}", f"{rng.randint(2, 9)}{rng.randint(0, 99):02d}"
        digits = f"{area}{exchange}{rng.randrange(10**4):04d}"
        if digits[3:6] != "555" and digits[1:3] != "11":
            return digits


def phone_forms(d: str) -> dict[str, str]:
    a, b, c = d[:3], d[3:6], d[6:]
    return {"phone dashed": f"{a}-{b}-{c}", "phone parentheses": f"({a}) {b}-{c}", "phone dots": f"{a}.{b}.{c}",
            "phone spaces": f"{a} {b} {c}", "phone +1": f"+1 {a} {b} {c}", "phone 1-": f"1-{a}-{b}-{c}",
            "phone extension": f"{a}-{b}-{c} x{int(c[:2]) + 10}"}


def address(rng: random.Random) -> tuple[str, str]:
    """(full form, abbreviated form) of a random street address."""
    number, name = rng.randint(1, 9999), rng.choice(STREET_NAMES)
    full, short = rng.choice(STREET_SUFFIXES)
    return f"{number} {name} {full}", f"{number} {name} {short}"


def make_patrons(fake: Faker, rng: random.Random, count: int) -> list[KnownPatron]:
    patrons = []
    special = [("Grace", "Whitfield"), ("May", "Okafor"), ("Will", "Pemberton"), ("Mary-Jane", "Smith-Jones")]
    for i in range(count):
        if i < len(special):
            first, last = special[i]
        elif i < len(special) + len(ACCENTED):
            first, last = ACCENTED[i - len(special)]
        else:
            first, last = fake.first_name(), fake.last_name()
        middle = fake.first_name() if rng.random() < 0.4 else None
        ascii_name = (first + "." + last).lower().encode("ascii", "ignore").decode().replace("-", "")
        email = f"{ascii_name}{rng.randint(1, 999)}@{fake.free_email_domain()}"
        dob = fake.date_of_birth(minimum_age=6, maximum_age=90).isoformat()
        full, _short = address(rng)
        patrons.append(KnownPatron(cardnumber=card_number(rng), firstname=first, middlename=middle, surname=last,
                                   email=email, phone=phone_digits(rng), address=full, city=fake.city(),
                                   zipcode=fake.zipcode(), dateofbirth=dob))
    return patrons


def _cell(column: str, template: str, value: str, entity: str, form: str) -> Cell:
    prefix, suffix = template.split("{}")
    text = prefix + value + suffix
    return Cell(column, text, [Label(len(prefix), len(prefix) + len(value), entity, form)])


def _obfuscate(email: str, style: str) -> str:
    local, domain = email.split("@")
    if style == "words":
        return f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"
    if style == "brackets":
        return f"{local} [at] {domain.replace('.', ' [dot] ')}"
    return f"{local}(at){domain}"


def make_corpus(seed: int = 11, patron_count: int = 2000, per_form: int = 100) -> Corpus:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    patrons = make_patrons(fake, rng, patron_count)
    with_middle = [p for p in patrons if p.middlename]
    cells: list[Cell] = []
    notes = ["{} asked to renew", "Left voicemail for {}", "{} paid the fine in cash", "Hold for {} at the desk",
             "Spoke with {} about overdue items"]

    def plant(column, form, entity, make_value, templates):
        for i in range(per_form):
            cells.append(_cell(column, rng.choice(templates), make_value(i), entity, form))

    def pick() -> KnownPatron:
        return rng.choice(patrons)

    # LIBRARY_CARD
    plant("note", "card plain", "LIBRARY_CARD", lambda i: card_number(rng), ["Card {} renewed", "New card {}"])
    plant("note", "card spaced", "LIBRARY_CARD",
          lambda i: (lambda c: f"{c[0]} {c[1:5]} {c[5:9]} {c[9:13]} {c[13]}")(card_number(rng)), ["Card {} replaced"])
    plant("note", "card dashed", "LIBRARY_CARD",
          lambda i: (lambda c: f"{c[:5]}-{c[5:9]}-{c[9:]}")(card_number(rng)), ["Lost card {} blocked"])
    plant("comment", "card of a known patron", "LIBRARY_CARD", lambda i: pick().cardnumber, ["Barcode {} at desk"])
    # KNOWN_PATRON: names
    plant("note", "full name", "KNOWN_PATRON", lambda i: (lambda p: f"{p.firstname} {p.surname}")(pick()), notes)
    plant("note", "lower-case name", "KNOWN_PATRON", lambda i: (lambda p: f"{p.firstname} {p.surname}".lower())(pick()), notes)
    plant("note", "ALL-CAPS name", "KNOWN_PATRON", lambda i: (lambda p: f"{p.firstname} {p.surname}".upper())(pick()), notes)
    plant("note", "surname first", "KNOWN_PATRON", lambda i: (lambda p: f"{p.surname}, {p.firstname}")(pick()), notes)
    plant("note", "middle name", "KNOWN_PATRON",
          lambda i: (lambda p: f"{p.firstname} {rng.choice([p.middlename, p.middlename[0] + '.'])} {p.surname}")(
              rng.choice(with_middle)), notes)
    plant("note", "accents dropped or kept", "KNOWN_PATRON",
          lambda i: (lambda f, s: rng.choice([f"{f} {s}", _strip_accents(f"{f} {s}")]))(*ACCENTED[i % len(ACCENTED)]),
          notes)
    plant("note", "hyphens as spaces", "KNOWN_PATRON", lambda i: rng.choice(["Mary Jane Smith Jones", "Mary-Jane Smith-Jones",
                                                                            "mary-jane smith jones"]), notes)
    plant("note", "first name with context", "KNOWN_PATRON", lambda i: pick().firstname,
          ["Patron {} called about a hold", "Borrower {} will pick up tomorrow", "Card holder {} disputed a fine"])
    plant("note", "surname with title", "KNOWN_PATRON", lambda i: pick().surname,
          ["Mrs. {} returned the items", "Mr. {} requested an interlibrary loan", "Dr. {} asked for a renewal"])
    plant("note", "author name, about the patron", "KNOWN_PATRON",
          lambda i: (lambda p: f"{p.firstname} {p.surname}")(pick()), ["Patron {} requested a book on gardening"])
    plant("comment", "email of a known patron", "KNOWN_PATRON", lambda i: pick().email, ["Send notices to {}"])
    plant("comment", "phone of a known patron", "KNOWN_PATRON",
          lambda i: rng.choice(list(phone_forms(pick().phone).values())), ["Reach at {} after 5"])
    plant("comment", "address of a known patron", "KNOWN_PATRON", lambda i: pick().address, ["Mail goes to {} now"])
    # EMAIL_ADDRESS
    def email(_i: int) -> str:
        return f"{fake.user_name()}{rng.randint(1, 99)}@{fake.free_email_domain()}"
    plant("comment", "email plain", "EMAIL_ADDRESS", email, ["Prefers email {}", "Contact: {}"])
    plant("comment", "email 'dot' and 'at' in words", "EMAIL_ADDRESS", lambda i: _obfuscate(email(i), "words"),
          ["write to {} please"])
    plant("comment", "email [at] [dot]", "EMAIL_ADDRESS", lambda i: _obfuscate(email(i), "brackets"), ["reach {} anytime"])
    plant("comment", "email (at)", "EMAIL_ADDRESS", lambda i: _obfuscate(email(i), "paren"), ["email: {}"])
    # PHONE_NUMBER
    for form in phone_forms("2125550000"):
        plant("comment", form, "PHONE_NUMBER", lambda i, form=form: phone_forms(phone_digits(rng))[form],
              ["Called back at {}", "Mobile {} (evenings)", "{} is the new number"])
    plant("comment", "phone ten digits with context", "PHONE_NUMBER", lambda i: phone_digits(rng),
          ["phone {} only", "Call {} before noon"])
    # US_STREET_ADDRESS
    plant("note", "address, suffix in full", "US_STREET_ADDRESS", lambda i: address(rng)[0], ["Moved to {} last month"])
    plant("note", "address, suffix abbreviated", "US_STREET_ADDRESS", lambda i: address(rng)[1], ["New address {}"])
    plant("note", "address with unit", "US_STREET_ADDRESS", lambda i: f"{address(rng)[0]} Apt {rng.randint(1, 40)}",
          ["Lives at {}, ring twice"])
    # DATE_OF_BIRTH
    def dob(_i: int):
        return fake.date_of_birth(minimum_age=6, maximum_age=90)
    plant("note", "DOB ISO with context", "DATE_OF_BIRTH", lambda i: dob(i).isoformat(), ["DOB {} verified"])
    plant("note", "DOB US digits with context", "DATE_OF_BIRTH", lambda i: dob(i).strftime("%m/%d/%Y"), ["born {}"])
    plant("note", "DOB in words", "DATE_OF_BIRTH",
          lambda i: (lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}")(dob(i)), ["Patron born {} per ID"])
    plant("note", "DOB in words, day first", "DATE_OF_BIRTH",
          lambda i: (lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}")(dob(i)), ["date of birth: {}"])
    plant("dateofbirth", "DOB in a birth-date column", "DATE_OF_BIRTH", lambda i: dob(i).isoformat(), ["{}"])
    plant("note", "known patron birth date in text", "DATE_OF_BIRTH",
          lambda i: (lambda p: _us_date(p.dateofbirth))(pick()), ["ID checked, {} matches"])
    cells.extend(make_decoys(fake, rng, patrons, per_form))
    rng.shuffle(cells)
    return Corpus(patrons, cells)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _us_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{month}/{day}/{year}"


def _isbn13(rng: random.Random) -> str:
    stem = "978" + f"{rng.randrange(10**9):09d}"
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(stem)) % 10) % 10
    return stem + str(check)


def _hyphenated(isbn13: str) -> str:
    return f"{isbn13[:3]}-{isbn13[3]}-{isbn13[4:7]}-{isbn13[7:12]}-{isbn13[12]}"


def _lc_call_number(rng: random.Random) -> str:
    klass = f"{rng.choice(['QA', 'PS', 'HV', 'Z'])}{rng.randint(1, 999)}.{rng.randint(1, 99)}"
    return f"{klass} .{rng.choice('ABCDPRS')}{rng.randint(10, 99)} {rng.randint(1990, 2025)}"


def _isbn10(rng: random.Random) -> str:
    stem = f"{rng.randrange(10**9):09d}"
    check = (11 - sum((10 - i) * int(c) for i, c in enumerate(stem)) % 11) % 11
    return stem + ("X" if check == 10 else str(check))


def _issn(rng: random.Random) -> str:
    stem = f"{rng.randrange(10**7):07d}"
    check = (11 - sum((8 - i) * int(c) for i, c in enumerate(stem)) % 11) % 11
    return f"{stem[:4]}-{stem[4:]}{'X' if check == 10 else check}"


def make_decoys(fake: Faker, rng: random.Random, patrons: list[KnownPatron], per_form: int) -> list[Cell]:
    """Cells that look like PII to a generic scanner and are not."""
    cells: list[Cell] = []

    def add(column: str, kind: str, make) -> None:
        cells.extend(Cell(column, make(), decoy=kind) for _ in range(per_form))

    def name() -> str:
        p = rng.choice(patrons)
        return f"{p.firstname} {p.surname}"

    def day(year_from: int = 2023) -> str:
        return fake.date_between_dates(date_start=dt.date(year_from, 1, 1), date_end=dt.date(2026, 12, 31)).isoformat()

    add("author", "author column shares a patron's name",
        lambda: rng.choice([name(), (lambda p: f"{p.surname}, {p.firstname}")(rng.choice(patrons))]))
    add("title", "title with a patron's name", lambda: f"The Secret Life of {name()}")
    add("note", "note about a book by an author who shares a patron's name",
        lambda: rng.choice([f"New novel by {name()} on display", f"Book club picked \"{fake.catch_phrase()}\" by {name()}",
                            f"{name()}'s new novel arrived", f"Author visit: {name()} reading from her memoir"]))
    add("barcode", "Luhn-valid item barcode", lambda: item_barcode(rng))
    add("note", "item barcode in a note", lambda: f"Item {item_barcode(rng)} damaged, sent to mending")
    add("note", "ISBN-13", lambda: f"ISBN {rng.choice([_isbn13(rng), _hyphenated(_isbn13(rng))])}")
    add("note", "ISBN-10", lambda: f"ISBN {_isbn10(rng)} reprint")
    add("note", "ISSN", lambda: f"Serial ISSN {_issn(rng)} claimed")
    add("note", "LCCN", lambda: f"LCCN {rng.randint(1990, 2025)}{rng.randrange(10**6):06d} cataloged")
    add("callnumber", "Dewey call number",
        lambda: f"{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d} {fake.last_name()[:3].upper()}")
    add("callnumber", "LC call number", lambda: _lc_call_number(rng))
    add("due_date", "due date", lambda: day())
    add("note", "loan date in a note", lambda: rng.choice([f"Due {day()}", f"Returned {_us_date(day())} late"]))
    add("note", "event date", lambda: (lambda d: rng.choice([f"May book sale on {MONTHS[int(d[5:7]) - 1]} {int(d[8:])}, {d[:4]}",
                                                            f"Story time {_us_date(d)} in the annex"]))(day()))
    add("note", "library contact details", lambda: rng.choice([f"Questions? Call {LIBRARY_PHONE}", f"Write to {LIBRARY_EMAIL}",
                                                               f"Drop-off at {LIBRARY_ADDRESS}"]))
    add("note", "words that are first names", lambda: rng.choice(["Grace period ends Friday", "May book sale this weekend",
                                                                  "Will be withdrawn next month", "Grace period extended",
                                                                  "Will be recalled"]))
    return cells
