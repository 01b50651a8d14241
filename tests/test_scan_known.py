"""The known patrons: from a CSV (any of the headers, BOM and latin-1 read, bad input one line without a
value) and from a real generated Koha database, read-only (current, deleted and pending patrons)."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from patronguard.errors import DatabaseUrlError, InputError, NotKohaShapedError
from patronguard.scan.known import KnownPatron, load_known_patrons_csv, load_known_patrons_ils


# ----------------------------------------------------------------------------- CSV
def test_csv_with_some_headers_in_any_order(tmp_path):
    path = tmp_path / "known.csv"
    path.write_text("Surname, firstname ,EMAIL,dateofbirth\nDoe,Jane,jane@example.org,1980-01-31\n"
                    ",,,\nRoe,Richard,,\nRoe,Richard,,\n", encoding="utf-8")
    assert load_known_patrons_csv(path) == [
        KnownPatron(surname="Doe", firstname="Jane", email="jane@example.org", dateofbirth="1980-01-31"),
        KnownPatron(surname="Roe", firstname="Richard")]          # blank rows skipped, duplicates once


def test_every_header(tmp_path):
    path = tmp_path / "known.csv"
    fields = ("cardnumber", "firstname", "middlename", "surname", "email", "phone", "address", "city", "zipcode",
              "dateofbirth")
    values = ("29470000000275", "Jane", "Q", "Doe", "j@example.org", "(203) 555-0101", "12 Elm St", "Westport",
              "06880", "1990-12-01")
    path.write_text(",".join(fields) + "\n" + ",".join(f'"{v}"' for v in values) + "\n", encoding="utf-8")
    assert load_known_patrons_csv(path) == [KnownPatron(**dict(zip(fields, values)))]


def test_bom_and_latin1(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufefffirstname,surname\nTomás,Núñez\n".encode("utf-8"))
    assert load_known_patrons_csv(bom) == [KnownPatron(firstname="Tomás", surname="Núñez")]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("firstname,surname\nJosé,Peña\n".encode("latin-1"))
    assert load_known_patrons_csv(latin) == [KnownPatron(firstname="José", surname="Peña")]


@pytest.mark.parametrize("content, expected", [
    (b"firstname,nickname\nJane,JD\n", "unknown header 'nickname'"),
    (b"firstname,firstname\nJane,Janet\n", "header 'firstname' given twice"),
    (b"", "empty file"),
    (b"\n\n", "no header line"),
    (b"firstname,surname\nJane\n", "line 2 has 1 fields, the header 2"),
    (b"firstname,dateofbirth\nJane,31/01/1980\n", "line 2: dateofbirth: Value error, not a date"),
    (b"firstname\x00,surname\n", "binary file"),
])
def test_bad_csv_is_one_line_naming_the_file_never_a_value(tmp_path, content, expected):
    path = tmp_path / "known.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_known_patrons_csv(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message
    assert "JD" not in message and "31/01/1980" not in message and "Janet" not in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_known_patrons_csv(tmp_path / "nope.csv")


# ----------------------------------------------------------------------------- the ILS
def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ils_patrons_current_deleted_and_pending_read_only(small_ils_sqlite_copy):
    url = f"sqlite:///{small_ils_sqlite_copy}"
    before = _sha256(small_ils_sqlite_copy)
    patrons = load_known_patrons_ils(url)
    assert _sha256(small_ils_sqlite_copy) == before                        # nothing written
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        anonymous = int(conn.execute(sa.text(
            "SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar())
        current = conn.execute(sa.text("SELECT borrowernumber, cardnumber, firstname, surname, email, emailpro, "
                                       "phone, mobile, dateofbirth FROM borrowers")).mappings().all()
        deleted = conn.execute(sa.text("SELECT cardnumber, firstname, surname FROM deletedborrowers")).all()
        pending = conn.execute(sa.text("SELECT firstname, surname, email FROM borrower_modifications "
                                       "WHERE email IS NOT NULL")).all()
    engine.dispose()
    assert deleted and pending, "the generated library has deleted and pending patrons"
    cards = {p.cardnumber for p in patrons}
    names = {(p.firstname, p.surname) for p in patrons}
    emails = {p.email for p in patrons}
    phones = {p.phone for p in patrons}
    for row in current:
        if row["borrowernumber"] == anonymous:
            assert row["cardnumber"] not in cards                          # Koha's anonymous patron is no one
            continue
        assert row["cardnumber"] in cards
        assert (row["firstname"], row["surname"]) in names
        for value in (row["email"], row["emailpro"]):
            assert value is None or value in emails
        for value in (row["phone"], row["mobile"]):
            assert value is None or value in phones
    for card, first, surname in deleted:
        assert card in cards and (first, surname) in names
    for first, surname, email in pending:
        assert email in emails and (first, surname) in names
    births = [p.dateofbirth for p in patrons if p.dateofbirth]
    assert births and all(len(day) == 10 and day[4] == "-" for day in births)   # ISO days


def test_ils_on_every_backend(small_ils_url):
    patrons = load_known_patrons_ils(small_ils_url)
    assert len({p.cardnumber for p in patrons if p.cardnumber}) >= 250
    assert all(isinstance(p, KnownPatron) for p in patrons)


def test_ils_that_is_not_koha_or_not_there(tmp_path):
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(NotKohaShapedError, match="no borrowers table"):
        load_known_patrons_ils(f"sqlite:///{empty}")
    with pytest.raises(DatabaseUrlError, match="--ils: SQLite database file .* does not exist"):
        load_known_patrons_ils(f"sqlite:///{tmp_path / 'nope.db'}")
