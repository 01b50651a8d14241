"""The known patrons: the people the scanner looks for by name, card, email, phone, address and birth
date — from a CSV (``--known-patrons``) or read-only from the ILS (``--ils``).

They are held in memory only: never written, logged or quoted in an error (errors name the file, the
line and the header, never a value).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..datafiles import check_day, describe_validation_error
from ..errors import InputError, NotKohaShapedError
from .readers_base import check_regular_nonempty


@dataclass(frozen=True, slots=True)
class KnownPatron:
    cardnumber: str | None = None
    firstname: str | None = None
    middlename: str | None = None
    surname: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    city: str | None = None
    zipcode: str | None = None
    dateofbirth: str | None = None   # ISO YYYY-MM-DD
    #: the patron's id in the ILS (set by the ILS loader only): lets the share gate tell whose data a finding
    #: is; never printed, logged or written
    borrowernumber: int | None = field(default=None, repr=False)


#: the headers a known-patrons CSV may have (any of them, in any order)
CSV_HEADERS = ("cardnumber", "firstname", "middlename", "surname", "email", "phone", "address", "city", "zipcode",
               "dateofbirth")


class KnownPatronRow(BaseModel):
    """One row of a known-patrons CSV, as read (blank cells are None)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    cardnumber: str | None = None
    firstname: str | None = None
    middlename: str | None = None
    surname: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    city: str | None = None
    zipcode: str | None = None
    dateofbirth: str | None = None

    @field_validator("dateofbirth")
    @classmethod
    def _iso_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_day(value).isoformat()
        except ValueError:
            # the value itself is never repeated (it is a patron's birth date)
            raise ValueError("not a date; expected YYYY-MM-DD, e.g. 1980-01-31") from None

    def patron(self) -> KnownPatron:
        return KnownPatron(**self.model_dump())


def load_known_patrons_csv(path: str | Path) -> list[KnownPatron]:
    """The patrons of a CSV whose header holds any of :data:`CSV_HEADERS` (UTF-8 with or without BOM,
    cp1252 or latin-1); InputError naming the file and the header or line otherwise."""
    from .readers_base import looks_binary
    from .readers_text import detect_encoding

    path = Path(path)
    check_regular_nonempty(path, f"expected a header line with any of {', '.join(CSV_HEADERS)}")
    with path.open("rb") as handle:
        if looks_binary(handle.read(64 * 1024)):
            raise InputError(f"{path}: binary file, not a CSV of known patrons")
    encoding = detect_encoding(path)
    patrons: list[KnownPatron] = []
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip().lower() for name in next(reader, [])]
            if not any(header):
                raise InputError(f"{path}: no header line; expected any of {', '.join(CSV_HEADERS)}")
            _check_header(path, header)
            for fields in reader:
                if not any(field.strip() for field in fields):
                    continue
                if len(fields) != len(header):
                    raise InputError(f"{path}: line {reader.line_num} has {len(fields)} fields, the header "
                                     f"{len(header)}")
                values = {name: (field.strip() or None) for name, field in zip(header, fields)}
                try:
                    row = KnownPatronRow.model_validate(values)
                except ValidationError as exc:
                    raise InputError(describe_validation_error(f"{path}: line {reader.line_num}", exc,
                                                               KnownPatronRow)) from None
                if any(value is not None for value in values.values()):
                    patrons.append(row.patron())
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({str(exc)[:80]})") from None
    return list(dict.fromkeys(patrons))


def _check_header(path: Path, header: list[str]) -> None:
    for name in header:
        if name not in CSV_HEADERS:
            shown = name[:40] or "(empty)"
            raise InputError(f"{path}: unknown header {shown!r}; expected any of {', '.join(CSV_HEADERS)}")
    twice = next((name for name in header if header.count(name) > 1), None)
    if twice is not None:
        raise InputError(f"{path}: header {twice!r} given twice")


# ----------------------------------------------------------------------------- from the ILS
#: Koha's tables of patrons: current ones, the copies kept of deleted ones, pending self-service changes
ILS_TABLES = ("borrowers", "deletedborrowers", "borrower_modifications")
EXTRA_FIRST_NAMES = ("preferred_name", "othernames")
EMAIL_COLUMNS = ("email", "emailpro", "B_email")
PHONE_COLUMNS = ("phone", "mobile", "phonepro", "fax", "B_phone", "smsalertnumber")
#: (street number column, street column) of each address a patron row may hold
ADDRESS_COLUMNS = (("streetnumber", "address"), (None, "address2"), ("B_streetnumber", "B_address"),
                   (None, "B_address2"))
ROWS_PER_FETCH = 10_000


def load_known_patrons_ils(url: str, *, option: str = "--ils") -> list[KnownPatron]:
    """Every patron of a Koha database — ``borrowers``, the copies in ``deletedborrowers`` and (if present)
    ``borrower_modifications`` — read-only: the session is made read-only where the server allows it, and
    nothing is ever written. Columns are taken by name where they exist (releases differ). Koha's
    anonymous patron (``AnonymousPatron``), whose card stands for no one, is left out."""
    import sqlalchemy as sa

    from ..db import connect, masked

    engine = connect(url, option=option)
    try:
        names = set(sa.inspect(engine).get_table_names())
        if "borrowers" not in names:
            raise NotKohaShapedError(f"{option}: {masked(url)} has no borrowers table; not a Koha database")
        metadata = sa.MetaData()
        tables = [sa.Table(name, metadata, autoload_with=engine) for name in ILS_TABLES if name in names]
        with engine.connect() as conn:
            _read_only(conn)
            anonymous = _anonymous_patron(conn, names)
            patrons: dict[KnownPatron, None] = {}
            for table in tables:
                wanted = [column for column in table.columns if column.name in _WANTED_COLUMNS]
                query = sa.select(*wanted)
                if anonymous is not None and "borrowernumber" in table.columns:
                    query = query.where(sa.or_(table.c.borrowernumber.is_(None),
                                               table.c.borrowernumber != anonymous))
                result = conn.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(query)
                for row in result.mappings():
                    patrons.update(dict.fromkeys(patrons_of_row(row)))
            conn.rollback()
    finally:
        engine.dispose()
    return list(patrons)


_WANTED_COLUMNS = {"borrowernumber", "cardnumber", "firstname", "middle_name", "surname", "city", "zipcode",
                   "dateofbirth",
                   *EXTRA_FIRST_NAMES, *EMAIL_COLUMNS, *PHONE_COLUMNS,
                   *(c for pair in ADDRESS_COLUMNS for c in pair if c)}


def _read_only(conn) -> None:
    """Make the session read-only where the server can (a second guard: the loader only ever SELECTs)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = 1")
    elif dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    elif dialect == "postgresql":
        conn.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")


def _anonymous_patron(conn, names: set[str]) -> int | None:
    import sqlalchemy as sa

    if "systempreferences" not in names:
        return None
    value = conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar()
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _birth_day(value) -> str | None:
    if value is None:
        return None
    try:
        return check_day(value if not hasattr(value, "isoformat") else value.isoformat()[:10]).isoformat()
    except ValueError:
        return None   # Koha's 0000-00-00 and other non-days: no birth date to look for


def patrons_of_row(row) -> Iterator[KnownPatron]:
    """The patron of one Koha row, and one more entry per further name, email, phone or address it holds."""
    get = row.get
    first, middle, surname = _text(get("firstname")), _text(get("middle_name")), _text(get("surname"))
    card = _text(get("cardnumber"))
    number = get("borrowernumber")
    number = int(number) if isinstance(number, int) or (isinstance(number, str) and number.isdigit()) else None
    emails = _distinct(_text(get(c)) for c in EMAIL_COLUMNS)
    phones = _distinct(_text(get(c)) for c in PHONE_COLUMNS)
    addresses = _distinct(_street(_text(get(number)) if number else None, _text(get(street)))
                          for number, street in ADDRESS_COLUMNS)
    main = KnownPatron(cardnumber=card, firstname=first, middlename=middle, surname=surname,
                       email=emails[0] if emails else None, phone=phones[0] if phones else None,
                       address=addresses[0] if addresses else None, city=_text(get("city")),
                       zipcode=_text(get("zipcode")), dateofbirth=_birth_day(get("dateofbirth")),
                       borrowernumber=number)
    if any(getattr(main, name) is not None for name in main.__slots__ if name != "borrowernumber"):
        yield main
    for other in _distinct(_text(get(c)) for c in EXTRA_FIRST_NAMES):
        if other != first and surname:
            yield KnownPatron(cardnumber=card, firstname=other, middlename=middle, surname=surname,
                              borrowernumber=number)
    for email in emails[1:]:
        yield KnownPatron(cardnumber=card, email=email, borrowernumber=number)
    for phone in phones[1:]:
        yield KnownPatron(cardnumber=card, phone=phone, borrowernumber=number)
    for address in addresses[1:]:
        yield KnownPatron(cardnumber=card, address=address, borrowernumber=number)


def _street(number: str | None, street: str | None) -> str | None:
    if street is None:
        return None
    return f"{number} {street}" if number and not street.startswith(number) else street


def _distinct(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))
