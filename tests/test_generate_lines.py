"""``ils init --koha-version LINE``: every supported Koha release line, built from its facts.

Each line is initialised on MariaDB (``current`` also on SQLite and PostgreSQL)
with a small library (module-scoped, read-only); the checks compare the
database with the line's facts (``koha_lines.yaml``) and the PII map.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from dbs import fresh_database
from patronguard.errors import InputError
from patronguard.ils import LibrarySpec, generate_library, init_ils
from patronguard.ils.generate_lines import LineRows
from patronguard.ils.generate_util import Calendar, Columns, Formatter
from patronguard.ils.line_schema import line_facts, line_tables
from patronguard.ils.piimap import builtin_pii_map
from patronguard.ils.release import supported_lines

SPEC = dict(patrons=300, loans=3000, years=4, seed=11, until=dt.date(2026, 6, 30))
UNTIL = SPEC["until"]
LINES = supported_lines()
CASES = [("mariadb", line) for line in LINES] + [("sqlite", "current"), ("postgresql", "current")]
#: The circulation core, generated since before release lines (tests/test_generate.py checks its rows).
CORE = {"borrowers", "deletedborrowers", "borrower_modifications", "borrower_relationships", "borrower_attributes",
        "biblio", "items", "issues", "old_issues", "reserves", "old_reserves", "statistics", "accountlines",
        "action_logs", "message_queue", "items_last_borrower", "search_history"}
#: Tables whose rows are events of one patron, drawn so that the patrons every policy treats
#: specially (privacy 0, expired card, juvenile, guarantor) always appear.
EVENT_TABLES = ["reviews", "tags_all", "ratings", "suggestions", "article_requests", "illrequests", "messages",
                "borrower_debarments", "linktracker", "problem_reports", "tickets", "discharges",
                "curbside_pickups", "bookings", "recalls"]


@pytest.fixture(scope="module", params=CASES, ids=[f"{b}-{line}" for b, line in CASES])
def ils(request, tmp_path_factory):
    backend, line = request.param
    with fresh_database(backend, tmp_path_factory.mktemp("lines")) as url:
        counts = init_ils(url, LibrarySpec(**SPEC), koha_version=line)
        engine = sa.create_engine(url)
        yield backend, line, url, engine, counts
        engine.dispose()


def rows(engine, sql: str) -> list:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def one(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def q(engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def day(value) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


# --- schema --------------------------------------------------------------------------------

def test_init_creates_exactly_the_facts_tables_and_columns(ils):
    backend, line, _, engine, counts = ils
    facts = line_facts(line)
    inspector = sa.inspect(engine)
    assert sorted(inspector.get_table_names()) == sorted(facts.tables)
    assert set(counts) == set(facts.tables)
    for name, fact in facts.tables.items():
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        assert list(columns) == list(fact.columns), name
        for col, cf in fact.columns.items():
            reflected = columns[col]
            assert reflected["nullable"] == (cf.null and col not in fact.primary_key), (name, col)
            kind = cf.type.split("(")[0].split()[0]
            found = reflected["type"]
            assert not isinstance(found, mysql.TIMESTAMP), (name, col)  # never auto-updating
            if kind in ("datetime", "timestamp"):
                assert isinstance(found, sa.DateTime), (name, col, found)
            elif kind == "date":
                assert isinstance(found, sa.Date) and not isinstance(found, sa.DateTime), (name, col, found)
            elif kind in ("varchar", "char"):
                assert isinstance(found, sa.String) and found.length == int(cf.type.split("(")[1][:-1]), (name, col)
            elif kind in ("int", "integer", "bigint", "smallint", "tinyint", "boolean", "serial"):
                assert isinstance(found, sa.Integer), (name, col, found)
                if backend == "mariadb" and kind == "tinyint":
                    assert isinstance(found, mysql.TINYINT), (name, col, found)
            elif kind == "decimal":
                precision, scale = (int(v) for v in cf.type.split("(")[1][:-1].split(","))
                assert (found.precision, found.scale) == (precision, scale), (name, col)
        key = inspector.get_pk_constraint(name)["constrained_columns"]
        assert sorted(key) == sorted(fact.primary_key), name
        fks = {fk["constrained_columns"][0]: fk for fk in inspector.get_foreign_keys(name)}
        assert set(fks) == set(fact.foreign_keys), name
        for col, fk in fact.foreign_keys.items():
            assert fks[col]["referred_table"] == "borrowers" and fks[col]["referred_columns"] == ["borrowernumber"]
            if backend != "sqlite" or fk.on_delete != "RESTRICT":
                assert (fks[col]["options"].get("ondelete") or "RESTRICT").upper() == fk.on_delete, (name, col)


def test_version_and_anonymous_patron(ils):
    _, line, _, engine, _ = ils
    prefs = dict(rows(engine, "SELECT variable, value FROM systempreferences"))
    assert prefs["Version"] == line_facts(line).version_preference
    anonymous = rows(engine, f"SELECT surname FROM borrowers WHERE borrowernumber = {int(prefs['AnonymousPatron'])}")
    assert anonymous == [("ANONYMOUS",)]


def test_every_scheduled_or_owned_table_has_rows(ils):
    _, line, _, engine, counts = ils
    pii_map = builtin_pii_map()
    governed = [t for t in line_facts(line).tables if t in pii_map.tables
                and (pii_map.tables[t].scheduled or pii_map.tables[t].lifecycle == "owned")]
    assert len(governed) > 20
    empty = [t for t in governed if one(engine, f"SELECT count(*) FROM {q(engine, t)}") == 0]
    assert empty == []
    assert counts["borrowers"] + counts["deletedborrowers"] == SPEC["patrons"]
    assert counts["issues"] + counts["old_issues"] == SPEC["loans"]


def test_foreign_keys_to_borrowers_hold(ils):
    _, line, _, engine, _ = ils
    for name, fact in line_facts(line).tables.items():
        for col in fact.foreign_keys:
            c = q(engine, col)
            orphans = one(engine, f"SELECT count(*) FROM {q(engine, name)} t LEFT JOIN borrowers b "
                                  f"ON b.borrowernumber = t.{c} WHERE t.{c} IS NOT NULL AND b.borrowernumber IS NULL")
            assert orphans == 0, (name, col)


def test_enum_columns_hold_only_the_lines_values(ils):
    """Enums are VARCHARs here, so nothing but this test keeps a state the line's Koha did not know out."""
    _, line, _, engine, _ = ils
    for name, fact in line_facts(line).tables.items():
        for col, cf in fact.columns.items():
            if cf.type.startswith("enum("):
                allowed = set(re.findall(r"'([^']*)'", cf.type))
                found = {v for (v,) in rows(engine, f"SELECT DISTINCT {q(engine, col)} FROM {q(engine, name)}")}
                assert found - {None} <= allowed, (name, col, found - allowed)


def _digests(url: str, tables) -> dict[str, str]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in tables:
            data = sorted(repr(tuple(r)) for r in conn.execute(sa.text(f"SELECT * FROM {q(engine, table)}")))
            out[table] = hashlib.sha256("\n".join(data).encode()).hexdigest()
    engine.dispose()
    return out


def test_same_seed_gives_identical_rows(ils, tmp_path):
    backend, line, url, _, _ = ils
    tables = line_tables(line)
    with fresh_database(backend, tmp_path) as again:
        init_ils(again, LibrarySpec(**SPEC), koha_version=line)
        assert _digests(again, tables) == _digests(url, tables)


# --- rows that exercise retention ---------------------------------------------------------

def _age_columns(line: str):
    pii_map = builtin_pii_map()
    for name, fact in line_facts(line).tables.items():
        table = pii_map.tables.get(name)
        if table is not None and table.scheduled and table.age and not table.age_via_patron \
                and table.age in fact.columns:
            yield name, table


def test_dates_span_old_and_recent(ils):
    _, line, _, engine, _ = ils
    for name, table in _age_columns(line):
        oldest, newest = rows(engine, f"SELECT min({q(engine, table.age)}), max({q(engine, table.age)}) "
                                      f"FROM {q(engine, name)}")[0]
        assert day(oldest) <= UNTIL - dt.timedelta(days=365), (name, oldest)
        if name not in ("deletedborrowers",):
            assert day(newest) >= UNTIL - dt.timedelta(days=45), (name, newest)


def test_open_and_closed_rows_per_the_maps_still_open_conditions(ils):
    _, line, _, engine, _ = ils
    for name, table in builtin_pii_map().tables.items():
        if name not in line_facts(line).tables:
            continue
        for exemption in table.exemptions:
            if exemption.kind != "still_open":
                continue
            tests = []
            for cond in exemption.when:
                if cond.column not in line_facts(line).tables[name].columns:
                    continue
                c = q(engine, cond.column)
                if cond.in_:
                    tests.append(f"{c} IN ({', '.join(repr(v) for v in cond.in_)})")
                elif cond.is_null:
                    tests.append(f"{c} IS NULL")
                elif cond.today_or_later:
                    tests.append(f"{c} >= '{UNTIL.isoformat()}'")
            if not tests:
                continue
            open_ = one(engine, f"SELECT count(*) FROM {q(engine, name)} WHERE {' OR '.join(tests)}")
            total = one(engine, f"SELECT count(*) FROM {q(engine, name)}")
            assert 0 < open_ < total, (name, open_, total)


def test_special_patrons_appear_in_event_tables(ils):
    _, line, _, engine, _ = ils
    pii_map = builtin_pii_map()
    privacy0 = {r[0] for r in rows(engine, "SELECT borrowernumber FROM borrowers WHERE privacy = 0")}
    expired = {r[0] for r in rows(engine, f"SELECT borrowernumber FROM borrowers WHERE categorycode <> 'ANON' "
                                          f"AND dateexpiry < '{UNTIL.isoformat()}'")}
    juveniles = {r[0] for r in rows(engine, "SELECT borrowernumber FROM borrowers WHERE categorycode = 'J'")}
    guarantors = {r[0] for r in rows(engine, "SELECT guarantor_id FROM borrower_relationships")}
    for name in EVENT_TABLES:
        if name not in line_facts(line).tables:
            continue
        link = pii_map.tables[name].link
        who = {r[0] for r in rows(engine, f"SELECT DISTINCT {q(engine, link)} FROM {q(engine, name)}")}
        for label, group in (("privacy 0", privacy0), ("expired", expired), ("juvenile", juveniles),
                             ("guarantor", guarantors)):
            assert who & group, (name, label)


def test_free_text_names_patrons_and_staff_columns_point_at_staff(ils):
    _, line, _, engine, _ = ils
    pii_map = builtin_pii_map()
    people = rows(engine, "SELECT firstname, surname, phone, mobile, cardnumber FROM borrowers "
                          "UNION ALL SELECT firstname, surname, phone, mobile, cardnumber FROM deletedborrowers")
    marks = {v for p in people for v in p if v and v != "ANONYMOUS" and len(v) > 3}
    staff = rows(engine, "SELECT borrowernumber, userid FROM borrowers WHERE categorycode = 'ST'")
    staff_values = {str(b) for b, _ in staff} | {u for _, u in staff}
    for name, fact in line_facts(line).tables.items():
        table = pii_map.tables.get(name)
        if table is None:
            continue
        texts = [c for c in table.columns_with("free_text") if c in fact.columns]
        if texts and name not in CORE and table.lifecycle != "reference":  # the core's notes: test_generate.py
            found = [v for c in texts for (v,) in rows(engine, f"SELECT {q(engine, c)} FROM {q(engine, name)} "
                                                               f"WHERE {q(engine, c)} IS NOT NULL")]
            named = [v for v in found if isinstance(v, str) and any(m in v for m in marks)]
            assert named, (name, texts)
        for col in table.columns_with("staff"):
            if col in fact.columns:
                values = {str(v) for (v,) in rows(engine, f"SELECT DISTINCT {q(engine, col)} FROM {q(engine, name)} "
                                                          f"WHERE {q(engine, col)} IS NOT NULL")}
                assert values <= staff_values, (name, col, values - staff_values)


def test_pending_self_registrations(ils):
    _, _, _, engine, _ = ils
    stamps = [day(r[0]) for r in rows(engine, "SELECT timestamp FROM borrower_modifications WHERE borrowernumber = 0")]
    assert len(stamps) >= 2 and all(s >= UNTIL - dt.timedelta(days=31) for s in stamps)
    assert max(stamps) >= UNTIL - dt.timedelta(days=2)


# --- what changed between lines ------------------------------------------------------------

@pytest.fixture(scope="module")
def generated():
    """The library's rows per line, in memory (table -> list of row dicts)."""
    out = {}
    for line in LINES:
        tables: dict[str, list[dict]] = {}
        for batch in generate_library(LibrarySpec(**SPEC), koha_version=line):
            tables.setdefault(batch.table, []).extend(dict(zip(batch.columns, r)) for r in batch.rows)
        out[line] = tables
    return out


def test_generation_is_deterministic_per_line(generated):
    for line in LINES:
        again: dict[str, list[dict]] = {}
        for batch in generate_library(LibrarySpec(**SPEC), koha_version=line):
            again.setdefault(batch.table, []).extend(dict(zip(batch.columns, r)) for r in batch.rows)
        assert again == generated[line], line


def test_the_same_library_in_every_line(generated):
    current = generated["current"]
    for line in LINES:
        tables = generated[line]
        for name in ("borrowers", "old_issues", "old_reserves", "statistics", "accountlines", "action_logs"):
            assert len(tables[name]) == len(current[name]), (line, name)
        renewals = "renewals_count" if "renewals_count" in line_facts(line).tables["old_issues"].columns else "renewals"
        assert sum(r[renewals] for r in tables["old_issues"]) == sum(r["renewals_count"] for r in current["old_issues"])
        facts = line_facts(line).tables["accountlines"].columns
        lines_ = tables["accountlines"]
        if "debit_type_code" not in facts:
            kinds = {r["accounttype"] for r in lines_}
            assert kinds <= {"F", "FU", "Pay", "L", "A", "W", "C"} and {"F", "Pay"} <= kinds, (line, kinds)
            assert sum(r["accounttype"] == "Pay" for r in lines_) == sum(
                r["credit_type_code"] == "PAYMENT" for r in current["accountlines"])
        if "old_issue_id" not in facts:
            assert all(r["issue_id"] is not None for r in lines_ if r["amount"] > 0), line
        if "categorycode" not in line_facts(line).tables["statistics"].columns:
            assert "categorycode" not in tables["statistics"][0]


def test_guarantorid_stands_in_for_borrower_relationships():
    """A line without borrower_relationships keeps a juvenile's guarantor in borrowers.guarantorid."""
    facts = line_facts(LINES[0])
    borrowers = facts.tables["borrowers"]
    columns = {**borrowers.columns, "guarantorid": borrowers.columns["borrowernumber"].model_copy(
        update={"null": True, "auto_increment": False})}
    old = facts.model_copy(update={"tables": {**{k: v for k, v in facts.tables.items()
                                                 if k != "borrower_relationships"},
                                              "borrowers": borrowers.model_copy(update={"columns": columns})}})
    cal = Calendar.build(UNTIL, 1)
    adapter = LineRows("current", cal, Formatter(cal.start, "sqlite"), np.array([None, 1, None], dtype=object))
    adapter.facts, adapter.present = old, frozenset(old.tables)
    assert adapter.adapt(Columns("borrower_relationships", ["id"], [[1]])) is None
    out = adapter.adapt(Columns("borrowers", ["borrowernumber", "surname"], [np.array([1, 2, 3]), ["A", "B", "C"]]))
    values = dict(zip(out.names, out.values))
    assert list(values["guarantorid"]) == [None, 1, None]


def test_unknown_line_is_refused_naming_the_supported_ones(tmp_path):
    with pytest.raises(InputError) as err:
        init_ils(f"sqlite:///{tmp_path / 'x.db'}", LibrarySpec(**SPEC), koha_version="18.05")
    message = str(err.value)
    assert message.startswith("--koha-version '18.05' is not a supported") and ", ".join(LINES) in message
    assert not (tmp_path / "x.db").exists()


def test_current_generation_drops_nothing():
    """Every column the builders write exists in the current line (nothing is silently lost)."""
    from patronguard.ils import generate as generate_module

    library = generate_module._Library(LibrarySpec(**{**SPEC, "patrons": 60, "loans": 500}), "sqlite")
    list(library.tables())
    dropped = {t: cols for t, cols in library.line.dropped.items() if cols}
    legacy = {"additional_contents": {"idnew", "title", "content", "lang"}, "virtualshelves": {"category"},
              "virtualshelfcontents": {"flags"}, "alert": {"date"}, "borrower_files": {"uploaded_by"}}
    assert {t: set(c) - legacy.get(t, set()) for t, c in dropped.items() if set(c) - legacy.get(t, set())} == {}


def test_cli_koha_version(capsys, tmp_path):
    from cli_helpers import run_cli

    url = f"sqlite:///{tmp_path / 'ils.db'}"
    code, _, err = run_cli(capsys, "ils", "init", "--db", url, "--patrons", "60", "--loans", "400",
                           "--until", "2026-06-30", "--koha-version", "20.11")
    assert code == 0 and err.strip().endswith("(Koha release line 20.11)")
    engine = sa.create_engine(url)
    assert one(engine, "SELECT value FROM systempreferences WHERE variable = 'Version'") == \
        line_facts("20.11").version_preference
    engine.dispose()
    code, _, err = run_cli(capsys, "ils", "init", "--db", url, "--koha-version", "3.22")
    assert code == 2 and err.count("\n") == 1 and "--koha-version '3.22' is not a supported" in err


def test_replace_drops_the_tables_of_any_line_and_nothing_else(tmp_path):
    url = f"sqlite:///{tmp_path / 'ils.db'}"
    small = LibrarySpec(**{**SPEC, "patrons": 60, "loans": 400})
    init_ils(url, small, koha_version="19.11")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE local_notes (id INTEGER PRIMARY KEY, body VARCHAR(20))")
    assert "opac_news" in sa.inspect(engine).get_table_names()
    init_ils(url, small, replace=True, koha_version="current")
    present = set(sa.inspect(engine).get_table_names())
    assert present == set(line_tables("current")) | {"local_notes"}
    engine.dispose()
