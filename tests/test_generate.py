"""The synthetic Koha library and ``init_ils``, on SQLite, MariaDB and PostgreSQL.

Read-only checks share the session's ``small_ils_url`` (SMALL_SPEC); tests
that create, refuse, replace or break an ILS use their own empty database.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from collections import Counter

import pytest
import sqlalchemy as sa

from conftest import SMALL_SPEC
from patronguard.errors import IlsAlreadyInitialisedError, InputError
from patronguard.ils import LibrarySpec, generate_library, init_ils
from patronguard.ils import init as init_module
from patronguard.ils.line_schema import line_facts, line_metadata, line_tables

KOHA_TABLES = line_tables("current")
metadata = line_metadata("current")
borrowers = metadata.tables["borrowers"]

UNTIL = SMALL_SPEC["until"]
END = dt.datetime.combine(UNTIL + dt.timedelta(days=1), dt.time())
TINY = dict(patrons=60, loans=800, years=2, seed=3, until=dt.date(2025, 12, 31))

#: Columns recording something that happened: none may be after ``until``.
#: (date_due, expirationdate and dateexpiry are scheduled dates and may be later.)
EVENT_COLUMNS = {
    "borrowers": ["dateenrolled", "lastseen", "updated_on"],
    "deletedborrowers": ["dateenrolled", "lastseen", "updated_on"],
    "borrower_modifications": ["timestamp"],
    "biblio": ["datecreated"],
    "items": ["dateaccessioned", "datelastborrowed", "datelastseen"],
    "issues": ["issuedate", "lastreneweddate", "timestamp", "notedate"],
    "old_issues": ["issuedate", "returndate", "lastreneweddate", "timestamp", "notedate"],
    "reserves": ["reservedate", "notificationdate", "waitingdate", "timestamp"],
    "old_reserves": ["reservedate", "notificationdate", "waitingdate", "cancellationdate", "timestamp"],
    "statistics": ["datetime"],
    "accountlines": ["date", "timestamp"],
    "action_logs": ["timestamp"],
    "message_queue": ["time_queued", "updated_on"],
    "items_last_borrower": ["created_on"],
    "search_history": ["time"],
}


@pytest.fixture
def db(small_ils_url):
    engine = sa.create_engine(small_ils_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def rows(conn, sql: str, **params) -> list:
    return list(conn.execute(sa.text(sql), params))


def one(conn, sql: str, **params):
    return conn.execute(sa.text(sql), params).scalar()


def moment(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def people(conn) -> dict[int, tuple]:
    """borrowernumber -> (firstname, surname, phone, mobile, email) for live and deleted patrons."""
    out = {}
    for table in ("borrowers", "deletedborrowers"):
        for bn, *fields in rows(conn, f"SELECT borrowernumber, firstname, surname, phone, mobile, email FROM {table}"):
            out[bn] = tuple(fields)
    return out


# --- the spec -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, option", [
    (dict(loans=0), "--loans"), (dict(loans=-5), "--loans"), (dict(loans="100"), "--loans"),
    (dict(loans=2.5), "--loans"), (dict(patrons=9), "--patrons"), (dict(patrons=True), "--patrons"),
    (dict(years=0), "--years"), (dict(seed=-1), "--seed"),
    (dict(until=dt.datetime(2025, 1, 1, 12)), "--until"), (dict(until="2025-01-01"), "--until"),
])
def test_spec_rejects_bad_values_naming_the_option(kwargs, option):
    with pytest.raises(InputError) as err:
        LibrarySpec(**kwargs)
    assert str(err.value).startswith(option)


def test_spec_defaults_and_until_today():
    spec = LibrarySpec()
    assert (spec.patrons, spec.loans, spec.years, spec.seed, spec.until) == (2000, 50000, 5, 1, None)
    assert spec.end == dt.date.today()


def test_generated_values_are_plain_python_types_in_fk_order():
    seen = Counter()
    finished: list[str] = []
    for batch in generate_library(LibrarySpec(**SMALL_SPEC), chunk_rows=5_000):
        assert batch.table not in finished  # one table at a time, its last chunk flagged
        if batch.last:
            finished.append(batch.table)
        assert 0 < len(batch.rows) <= 5_000
        for row in batch.rows:
            assert len(row) == len(batch.columns)
            for value in row:
                assert value is None or type(value) in (int, float, str, bytes), (batch.table, type(value))
        seen[batch.table] += len(batch.rows)
    assert set(seen) == set(finished) == set(KOHA_TABLES)
    assert seen["statistics"] > 5_000  # really chunked
    position = {t: k for k, t in enumerate(finished)}
    for table in metadata.sorted_tables:  # parents before children
        for fk in table.foreign_keys:
            assert position[fk.column.table.name] < position[table.name], (table.name, fk.column.table.name)


def test_generation_is_deterministic_in_memory():
    def digest(spec):
        h = hashlib.sha256()
        for batch in generate_library(spec):
            h.update(repr((batch.table, batch.columns, batch.rows)).encode())
        return h.hexdigest()
    spec = LibrarySpec(**TINY)
    assert digest(spec) == digest(LibrarySpec(**TINY))
    assert digest(spec) != digest(LibrarySpec(**{**TINY, "seed": 4}))
    assert digest(spec) != digest(LibrarySpec(**{**TINY, "until": dt.date(2025, 12, 30)}))


# --- counts and shape ----------------------------------------------------------------------

def test_row_counts_follow_the_spec(db):
    count = {t: one(db, f"SELECT count(*) FROM {t}") for t in KOHA_TABLES}
    assert count["borrowers"] + count["deletedborrowers"] == SMALL_SPEC["patrons"]
    assert count["issues"] + count["old_issues"] == SMALL_SPEC["loans"]
    assert all(count[t] > 0 for t in KOHA_TABLES), count
    holds = count["reserves"] + count["old_reserves"]
    assert 0.06 * SMALL_SPEC["loans"] <= holds <= 0.10 * SMALL_SPEC["loans"]
    assert 0.01 <= count["deletedborrowers"] / SMALL_SPEC["patrons"] <= 0.06


def test_every_foreign_key_holds(db):
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            child, parent = fk.parent, fk.column
            orphans = one(db, f"SELECT count(*) FROM {table.name} c LEFT JOIN {parent.table.name} p "
                              f"ON p.{parent.name} = c.{child.name} "
                              f"WHERE c.{child.name} IS NOT NULL AND p.{parent.name} IS NULL")
            assert orphans == 0, (table.name, child.name)


def test_loan_and_hold_ids_share_one_space(db):
    assert one(db, "SELECT count(*) FROM issues i JOIN old_issues o ON o.issue_id = i.issue_id") == 0
    assert one(db, "SELECT count(*) FROM reserves r JOIN old_reserves o ON o.reserve_id = r.reserve_id") == 0
    ids = [r[0] for r in rows(db, "SELECT issue_id FROM issues UNION ALL SELECT issue_id FROM old_issues")]
    assert sorted(ids) == list(range(1, SMALL_SPEC["loans"] + 1))


def test_card_numbers_and_barcodes_are_14_digit_luhn(db):
    def luhn_ok(number: str) -> bool:
        total = 0
        for pos, ch in enumerate(reversed(number)):
            d = int(ch) * (2 if pos % 2 else 1)
            total += d - 9 if d > 9 else d
        return total % 10 == 0
    cards = [r[0] for r in rows(db, "SELECT cardnumber FROM borrowers UNION ALL SELECT cardnumber FROM deletedborrowers")]
    barcodes = [r[0] for r in rows(db, "SELECT barcode FROM items")]
    for numbers in (cards, barcodes):
        assert len(numbers) == len(set(numbers))
        assert all(re.fullmatch(r"\d{14}", n) and luhn_ok(n) for n in numbers)


def test_emails_are_on_reserved_domains(db):
    emails = [r[0] for r in rows(db, "SELECT email FROM borrowers WHERE email IS NOT NULL")]
    assert len(emails) > SMALL_SPEC["patrons"] // 2
    assert all(re.fullmatch(r"[a-z0-9.]+@(example\.(com|org|net)|library\.example\.org)", e) for e in emails)


def test_anonymous_patron_preference_points_at_a_dedicated_borrower(db):
    value = one(db, "SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")
    row = rows(db, "SELECT surname, firstname, privacy FROM borrowers WHERE borrowernumber = :b", b=int(value))
    assert row == [("ANONYMOUS", None, 1)]
    assert one(db, "SELECT count(*) FROM old_issues WHERE borrowernumber = :b", b=int(value)) == 0


def test_juveniles_have_adult_guarantors(db):
    juveniles = rows(db, "SELECT b.borrowernumber, b.dateofbirth FROM borrowers b "
                         "JOIN categories c ON c.categorycode = b.categorycode WHERE c.category_type = 'C'")
    assert len(juveniles) > 10
    guarded = {g: (kind, ctype) for g, kind, ctype in rows(
        db, "SELECT r.guarantee_id, r.relationship, c.category_type FROM borrower_relationships r "
            "JOIN borrowers g ON g.borrowernumber = r.guarantor_id "
            "JOIN categories c ON c.categorycode = g.categorycode")}
    for bn, dob in juveniles:
        assert bn in guarded
        assert guarded[bn][0] in ("parent", "guardian") and guarded[bn][1] == "A"
        assert moment(dob) > dt.datetime(UNTIL.year - 16, UNTIL.month, UNTIL.day)
    assert one(db, "SELECT count(*) FROM borrower_relationships r JOIN borrowers b "
                   "ON b.borrowernumber = r.guarantor_id WHERE b.categorycode NOT IN ('PT', 'SR')") == 0


def test_privacy_mix(db):
    mix = dict(rows(db, "SELECT privacy, count(*) FROM borrowers GROUP BY privacy"))
    assert set(mix) == {0, 1, 2}
    total = sum(mix.values())
    assert 0.05 <= mix[0] / total <= 0.15 and 0.02 <= mix[2] / total <= 0.08


def test_some_patrons_long_expired(db):
    expiries = [moment(r[0]) for r in rows(db, "SELECT dateexpiry FROM borrowers")]
    assert sum(e < END - dt.timedelta(days=400) for e in expiries) >= 10
    assert sum(e > END for e in expiries) > len(expiries) // 2


# --- circulation ----------------------------------------------------------------------------

def test_no_event_after_until(db):
    for table, columns in EVENT_COLUMNS.items():
        for column in columns:
            latest = moment(one(db, f"SELECT max({column}) FROM {table}"))
            assert latest is None or latest < END, (table, column, latest)
    earliest = moment(one(db, "SELECT min(issuedate) FROM old_issues"))
    assert earliest >= END - dt.timedelta(days=366 * SMALL_SPEC["years"])


def test_loans_are_consistent(db):
    for r in rows(db, "SELECT issuedate, returndate, date_due, lastreneweddate, renewals_count FROM old_issues"):
        issued, returned, due = moment(r[0]), moment(r[1]), moment(r[2])
        assert issued <= returned and issued < due
        assert (r[3] is None) == (r[4] == 0)
        if r[3] is not None:
            assert issued < moment(r[3]) <= returned
    assert one(db, "SELECT count(*) FROM issues WHERE returndate IS NOT NULL") == 0
    assert one(db, "SELECT count(*) - count(DISTINCT itemnumber) FROM issues") == 0


def test_borrowing_is_heavy_tailed_and_renewals_happen(db):
    per_patron = sorted((r[0] for r in rows(db, "SELECT count(*) FROM old_issues WHERE borrowernumber IS NOT NULL "
                                                "GROUP BY borrowernumber")), reverse=True)
    top = per_patron[: max(1, len(per_patron) // 10)]
    assert sum(top) / sum(per_patron) > 0.3
    renewed = one(db, "SELECT count(*) FROM old_issues WHERE renewals_count > 0") / SMALL_SPEC["loans"]
    assert 0.08 <= renewed <= 0.2


def test_statistics_rows_per_issue_renew_return(db):
    kinds = dict(rows(db, "SELECT type, count(*) FROM statistics GROUP BY type"))
    renewals = one(db, "SELECT sum(renewals_count) FROM old_issues") + one(
        db, "SELECT coalesce(sum(renewals_count), 0) FROM issues")
    assert kinds["issue"] == SMALL_SPEC["loans"]
    assert kinds["return"] == one(db, "SELECT count(*) FROM old_issues")
    assert kinds["renew"] == renewals
    assert kinds["payment"] == one(db, "SELECT count(*) FROM accountlines WHERE credit_type_code = 'PAYMENT'")
    assert one(db, "SELECT count(*) FROM statistics WHERE borrowernumber IS NULL") == 0
    for kind, column in (("issue", "issuedate"), ("return", "returndate")):
        missing = one(db, f"SELECT count(*) FROM old_issues o WHERE o.borrowernumber IS NOT NULL AND NOT EXISTS "
                          f"(SELECT 1 FROM statistics s WHERE s.type = '{kind}' AND s.borrowernumber = "
                          f"o.borrowernumber AND s.itemnumber = o.itemnumber AND s.datetime = o.{column})")
        assert missing == 0, kind


def test_deleted_patrons_leave_traces_where_koha_leaves_them(db):
    deleted = {r[0] for r in rows(db, "SELECT borrowernumber FROM deletedborrowers")}
    assert deleted and not deleted & {r[0] for r in rows(db, "SELECT borrowernumber FROM borrowers")}
    assert one(db, "SELECT count(*) FROM old_issues WHERE borrowernumber IS NULL") > 0
    for table, column in (("statistics", "borrowernumber"), ("action_logs", "object"),
                          ("search_history", "userid")):
        kept = {r[0] for r in rows(db, f"SELECT DISTINCT {column} FROM {table}")}
        assert kept & deleted, table
    for table in ("items_last_borrower", "message_queue", "borrower_attributes", "reserves", "issues"):
        kept = {r[0] for r in rows(db, f"SELECT DISTINCT borrowernumber FROM {table}")}
        assert not kept & deleted, table
    orphans = {r[0] for r in rows(db, "SELECT borrowernumber FROM borrower_modifications")} & deleted
    assert orphans
    assert one(db, "SELECT count(*) FROM borrower_modifications WHERE borrowernumber = 0 "
                   "AND verification_token <> ''") >= 1


def test_fines_link_to_loans_paid_and_outstanding(db):
    assert one(db, "SELECT count(*) FROM accountlines a LEFT JOIN old_issues o ON o.issue_id = a.old_issue_id "
                   "WHERE a.old_issue_id IS NOT NULL AND o.issue_id IS NULL") == 0
    assert one(db, "SELECT count(*) FROM accountlines a LEFT JOIN issues i ON i.issue_id = a.issue_id "
                   "WHERE a.issue_id IS NOT NULL AND i.issue_id IS NULL") == 0
    debits = rows(db, "SELECT amount, amountoutstanding, old_issue_id, issue_id FROM accountlines "
                      "WHERE debit_type_code = 'OVERDUE'")
    paid = [d for d in debits if float(d[1]) == 0]
    outstanding = [d for d in debits if float(d[1]) > 0]
    assert paid and outstanding
    assert all(float(d[1]) == float(d[0]) for d in outstanding)
    assert all(d[2] is not None for d in paid)
    assert one(db, "SELECT count(*) FROM accountlines WHERE credit_type_code = 'PAYMENT'") == len(paid)
    late = one(db, "SELECT count(*) FROM old_issues WHERE returndate > date_due")
    assert one(db, "SELECT count(*) FROM accountlines WHERE old_issue_id IS NOT NULL") == late
    deleted_owing = one(db, "SELECT count(*) FROM accountlines WHERE borrowernumber IS NULL "
                            "AND amountoutstanding > 0")
    assert deleted_owing == 0


def test_holds_shapes(db):
    found = {r[0] for r in rows(db, "SELECT DISTINCT found FROM reserves")}
    assert found <= {None, "W", "T"} and "W" in found and None in found
    assert {r[0] for r in rows(db, "SELECT DISTINCT found FROM old_reserves")} == {None, "F"}
    assert one(db, "SELECT count(*) FROM old_reserves WHERE found IS NULL AND cancellationdate IS NULL") == 0


# --- where names hide -----------------------------------------------------------------------

def test_action_logs_name_patrons(db):
    who = people(db)
    members = rows(db, "SELECT action, object, info FROM action_logs WHERE module = 'MEMBERS'")
    assert {m[0] for m in members} == {"CREATE", "MODIFY", "DELETE"}
    for action, obj, info in members:
        first, last = who[obj][0], who[obj][1]
        assert last in info and (first is None or first in info), (action, obj)
        json.loads(info)
    user = db.dialect.identifier_preparer.quote("user")
    circ = rows(db, f"SELECT action, object, info, {user} FROM action_logs WHERE module = 'CIRCULATION'")
    assert {c[0] for c in circ} == {"ISSUE", "RETURN"}
    staff = {r[0] for r in rows(db, "SELECT borrowernumber FROM borrowers WHERE categorycode = 'ST'")}
    assert all(c[1] in who and c[2].isdigit() and c[3] in staff for c in circ)


def test_notices_address_the_patron_by_name(db):
    notices = rows(db, "SELECT m.content, m.to_address, m.message_transport_type, b.firstname, b.surname, b.email "
                       "FROM message_queue m JOIN borrowers b ON b.borrowernumber = m.borrowernumber")
    assert len(notices) == one(db, "SELECT count(*) FROM message_queue")
    assert {r[0] for r in rows(db, "SELECT DISTINCT letter_code FROM message_queue")} == {"ODUE", "HOLD", "CHECKOUT"}
    assert {r[0] for r in rows(db, "SELECT DISTINCT status FROM message_queue")} == {"sent", "failed"}
    for content, to, transport, first, last, email in notices:
        assert content.startswith(f"Dear {first} {last},")
        assert to == (email if transport == "email" else None)


def test_free_text_mentions_names_and_phones(db):
    who = people(db)
    names = {p[1] for p in who.values() if p[1] != "ANONYMOUS"}
    phones = {ph for p in who.values() for ph in p[2:4] if ph}

    def mentioning(texts):
        return [t for t in texts if any(n in t for n in names) or any(ph in t for ph in phones)]
    for table, column in (("old_issues", "note"), ("old_reserves", "reservenotes"), ("accountlines", "note"),
                          ("items", "itemnotes_nonpublic"), ("borrowers", "borrowernotes")):
        texts = [r[0] for r in rows(db, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
        assert mentioning(texts), table
    phoned = [t for t in (r[0] for r in rows(db, "SELECT reservenotes FROM old_reserves WHERE reservenotes IS NOT NULL"))
              if any(ph in t for ph in phones)]
    assert phoned


def test_last_borrowers_and_search_history(db):
    assert one(db, "SELECT count(*) - count(DISTINCT itemnumber) FROM items_last_borrower") == 0
    assert one(db, "SELECT count(*) FROM items_last_borrower l LEFT JOIN borrowers b "
                   "ON b.borrowernumber = l.borrowernumber WHERE b.borrowernumber IS NULL") == 0
    who = people(db)
    searches = rows(db, "SELECT userid, query_desc, query_cgi FROM search_history")
    assert all(s[0] in who and s[1].startswith("kw,wrdl: ") and s[2].startswith("idx=kw&q=") for s in searches)


# --- init_ils -------------------------------------------------------------------------------

def _table_digests(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in KOHA_TABLES:
            data = sorted(repr(tuple(r)) for r in conn.execute(sa.text(f"SELECT * FROM {table}")))
            out[table] = hashlib.sha256("\n".join(data).encode()).hexdigest()
    engine.dispose()
    return out


def _sqlite_digests(path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    out = {t: hashlib.sha256(repr(conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()).encode()).hexdigest()
           for t in KOHA_TABLES}
    conn.close()
    return out


def test_same_spec_gives_identical_sqlite_databases(tmp_path):
    spec = LibrarySpec(**TINY)
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    init_ils(f"sqlite:///{a}", spec)
    init_ils(f"sqlite:///{b}", LibrarySpec(**TINY))
    init_ils(f"sqlite:///{c}", LibrarySpec(**{**TINY, "seed": 99}))
    first, second, other = _sqlite_digests(a), _sqlite_digests(b), _sqlite_digests(c)
    assert first == second
    differing = {t for t in KOHA_TABLES if first[t] != other[t]}
    assert {"borrowers", "old_issues", "statistics", "action_logs"} <= differing


def test_init_creates_refuses_then_replaces(empty_db_url):
    lines: list[str] = []
    counts = init_ils(empty_db_url, LibrarySpec(**TINY), progress=lines.append)
    assert set(counts) == set(KOHA_TABLES)
    assert counts["borrowers"] + counts["deletedborrowers"] == TINY["patrons"]
    assert counts["issues"] + counts["old_issues"] == TINY["loans"]
    assert any(line.startswith("patrons: 60 (borrowers ") for line in lines)
    assert any(line.startswith("loans: 800 (old_issues ") for line in lines)
    before = _table_digests(empty_db_url)

    with pytest.raises(IlsAlreadyInitialisedError) as err:
        init_ils(empty_db_url, LibrarySpec(**{**TINY, "seed": 5}))
    message = str(err.value)
    assert "already has Koha tables (borrowers, " in message and "--replace" in message
    assert _table_digests(empty_db_url) == before

    counts2 = init_ils(empty_db_url, LibrarySpec(**{**TINY, "seed": 5}), replace=True)
    after = _table_digests(empty_db_url)
    assert after["borrowers"] != before["borrowers"]
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        for table in KOHA_TABLES:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == counts2[table]
        # Sequences / AUTO_INCREMENT continue after the loaded ids.
        new = conn.execute(borrowers.insert().values(**_required_values("borrowers"), surname="Newcomer",
                                                     cardnumber="29999999999990")).inserted_primary_key[0]
        top = conn.execute(sa.text("SELECT max(borrowernumber) FROM borrowers WHERE surname <> 'Newcomer'")).scalar()
        assert new > top
    engine.dispose()


def _required_values(table: str) -> dict:
    """A value for every NOT NULL column (Koha's DDL defaults are not part of the facts)."""
    usual = {"int": 0, "tinyint": 0, "smallint": 0, "bigint": 0, "decimal": 0, "date": dt.date(2026, 1, 1),
             "datetime": dt.datetime(2026, 1, 1), "timestamp": dt.datetime(2026, 1, 1)}
    out = {}
    for name, column in line_facts("current").tables[table].columns.items():
        if column.null or column.auto_increment:
            continue
        base = column.type.split("(")[0]
        out[name] = usual.get(base, "x" if base != "enum" else column.type.split("'")[1])
    return out


def test_replace_leaves_other_tables_alone(empty_db_url):
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE local_notes (id INTEGER PRIMARY KEY, body VARCHAR(20))")
        conn.exec_driver_sql("INSERT INTO local_notes VALUES (1, 'keep me')")
    init_ils(empty_db_url, LibrarySpec(**TINY))
    init_ils(empty_db_url, LibrarySpec(**TINY), replace=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT body FROM local_notes").scalar() == "keep me"
    engine.dispose()


def _failing_after(table: str):
    real = init_module.generate_library

    def broken(spec, **kwargs):
        def batches():
            for batch in real(spec, **kwargs):
                yield batch
                if batch.table == table:
                    raise RuntimeError("generator exploded")
        return batches()
    return broken


def test_failed_load_leaves_no_half_filled_ils(empty_db_url, monkeypatch):
    monkeypatch.setattr(init_module, "generate_library", _failing_after("old_issues"))
    with pytest.raises(RuntimeError, match="generator exploded"):
        init_ils(empty_db_url, LibrarySpec(**TINY))
    engine = sa.create_engine(empty_db_url)
    assert not set(sa.inspect(engine).get_table_names()) & set(KOHA_TABLES)
    engine.dispose()


def test_failed_replace_keeps_previous_data_or_no_tables(empty_db_url, backend, monkeypatch):
    init_ils(empty_db_url, LibrarySpec(**TINY))
    before = _table_digests(empty_db_url)
    monkeypatch.setattr(init_module, "generate_library", _failing_after("statistics"))
    with pytest.raises(RuntimeError):
        init_ils(empty_db_url, LibrarySpec(**{**TINY, "seed": 8}), replace=True)
    engine = sa.create_engine(empty_db_url)
    left = set(sa.inspect(engine).get_table_names()) & set(KOHA_TABLES)
    engine.dispose()
    if backend == "mariadb":  # DDL is not transactional there: nothing half-filled remains
        assert not left
    else:  # the whole replace was one transaction: the previous library is intact
        assert _table_digests(empty_db_url) == before


def test_init_rejects_a_non_spec(tmp_path):
    with pytest.raises(InputError):
        init_ils(f"sqlite:///{tmp_path / 'x.db'}", {"patrons": 10})
