"""The Board's audit report is right and readable: its numbers are the ILS's, scopes as written, no patron value,
payload text escaped, one self-contained page rendered from packaged templates."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
from html.parser import HTMLParser
from importlib import resources

import pytest
import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from patronguard.audit import hashed_patron, record_event, render_board_report
from patronguard.audit.report_counts import Tally, scope_as_written
from patronguard.ils import LibrarySpec, init_ils
from patronguard.ils.piimap import builtin_pii_map
from patronguard.policy import load_policy
from patronguard.retention.purge import parse_scope, run_purge
from patronguard.retention.run import run_retention
from patronguard.store import open_store

AS_OF = SMALL_SPEC["until"]
POLICY_PATH = ROOT / "policy/westchester.yaml"
POLICY = load_policy(POLICY_PATH)
PII = builtin_pii_map("koha")
HOSTILE = '<script>alert("x")</script>'


# ----------------------------------------------------------------------------- reading the page like a reader
class _Tables(HTMLParser):
    """Every ``<table id=…>`` as rows of cell texts; and the page's visible text outside ``<code>``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.prose: list[str] = []
        self._table = self._row = self._cell = None
        self._code = self._style = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "code":
            self._code += 1
        elif tag == "style":
            self._style += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "code":
            self._code -= 1
        elif tag == "style":
            self._style -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if not self._code and not self._style:
            self.prose.append(data)


def _parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def _records(table: list[list[str]]) -> list[dict[str, str]]:
    """A table as dicts keyed by its column headings (a footer's first cell spans columns: its label goes first)."""
    head, *rows = table
    return [dict(zip(head, [row[0]] + [""] * (len(head) - len(row)) + row[1:])) for row in rows]


def _n(text: str) -> int:
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", text), f"{text!r} is not a count with thousands separators"
    return int(text.replace(",", ""))


def _by_table(page: _Tables, table_id: str) -> dict[str, dict[str, int]]:
    """A "table by table" breakdown: ILS table → its counts as the report prints them."""
    out = {}
    for rec in _records(page.tables[table_id]):
        if not rec["Table"].startswith("All "):
            out[rec["Table"]] = {k: _n(v) for k, v in rec.items() if k not in ("Table", "What it holds")}
    return out


# ----------------------------------------------------------------------------- what the ILS says
def _row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                    for name, t in md.tables.items()}
    finally:
        engine.dispose()


def _identifying(url: str) -> dict[str, int]:
    """Rows whose patron link names a patron (not NULL, not the AnonymousPatron), per table the map links by key."""
    engine = sa.create_engine(url)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            anonymous = conn.execute(sa.text(
                "SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar()
            out = {}
            for name, table_map in PII.tables.items():
                if name not in md.tables or not table_map.link or table_map.link_to is not None:
                    continue
                link = md.tables[name].c[table_map.link]
                where = [link.is_not(None)] + ([link != int(anonymous)] if anonymous else [])
                out[name] = conn.execute(sa.select(sa.func.count()).select_from(md.tables[name]).where(*where)).scalar()
            return out
    finally:
        engine.dispose()


def _check_against_ils(by_table: dict, summary: dict, before: tuple[dict, dict], after: tuple[dict, dict]) -> None:
    """The report's rows of one purge or run are what the ILS lost or had de-identified, table by table."""
    (rows0, ident0), (rows1, ident1) = before, after
    gone = {t: rows0[t] - rows1.get(t, 0) for t in rows0 if rows0[t] != rows1.get(t, 0)}
    assert gone, "the step removed nothing: the test library is too small to check anything"
    reported_gone = {t: c["Rows deleted"] for t, c in by_table.items() if c["Rows deleted"]}
    assert reported_gone == gone                                   # every table's deleted rows, each counted
    stripped = 0
    for table, counts in by_table.items():
        stripped += counts["Rows de-identified"]
        assert counts["Total rows changed"] == (counts["Rows deleted"] + counts["Rows de-identified"]
                                                + counts["Staff links cleared"])
        if counts["Rows de-identified"] and not counts["Rows deleted"] and table in ident0:
            assert ident0[table] - ident1[table] == counts["Rows de-identified"], table
    patrons = PII.patron_table
    assert _n(summary["Patrons removed"]) == gone.get(patrons, 0)
    assert _n(summary["Other rows deleted"]) == sum(n for t, n in gone.items() if t != patrons)
    assert _n(summary["Rows de-identified"]) == stripped
    assert _n(summary["Total rows changed"]) == sum(gone.values()) + stripped + _n(summary["Staff links cleared"])


def _state(url: str) -> tuple[dict, dict]:
    return _row_counts(url), _identifying(url)


def _patron_values(url: str, borrowernumber: int) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT cardnumber, email, firstname, surname FROM borrowers "
                                       "WHERE borrowernumber = :b"), {"b": borrowernumber}).one()
    finally:
        engine.dispose()
    return [v for v in (row.cardnumber, row.email, f"{row.firstname} {row.surname}") if v]


def _heaviest_keeper(url: str) -> int:
    """A patron who opted in to keep history and has the most loans kept (a patron purge overrides that)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT o.borrowernumber FROM old_issues o JOIN borrowers b ON b.borrowernumber = o.borrowernumber "
                "WHERE b.privacy = 0 AND o.borrowernumber >= 100 GROUP BY o.borrowernumber "
                "ORDER BY COUNT(*) DESC, o.borrowernumber LIMIT 1")).scalar())
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- the real thing
@pytest.fixture(params=["sqlite", "postgresql"])
def library(request, small_ils_sqlite_master, tmp_path):
    """A generated library, free to change: a copy of the shared SQLite one, or a fresh one on PostgreSQL."""
    if request.param == "sqlite":
        copy = tmp_path / "ils.db"
        shutil.copyfile(small_ils_sqlite_master, copy)
        yield f"sqlite:///{copy}"
        return
    with fresh_database("postgresql", tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        yield url


def test_the_report_counts_what_the_run_and_the_purges_did_to_the_ils(library, tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    url = library
    states = [_state(url)]
    run_retention(url, str(POLICY_PATH), store_url=store_url, as_of=AS_OF)
    states.append(_state(url))
    run_purge(url, POLICY, parse_scope("older-than:365"), store_url=store_url, confirm=True, as_of=AS_OF,
              authorized_by="written authorization 0123456789ab for request ba9876543210")
    states.append(_state(url))
    patron = _heaviest_keeper(url)
    values = _patron_values(url, patron)
    run_purge(url, POLICY, parse_scope(f"patron:{patron}"), store_url=store_url, confirm=True, as_of=AS_OF,
              authorized_by="director")
    states.append(_state(url))

    store = open_store(store_url)
    try:
        text = render_board_report(store, tmp_path / "board.html").read_text()
    finally:
        store.engine.dispose()
    page = _parse(text)

    [run] = [r for r in _records(page.tables["retention-summary"])]
    assert run["Run"].startswith(f"Retention run as of {AS_OF.isoformat()}") and run["Verified"] == "yes"
    _check_against_ils(_by_table(page, "retention-tables"), run, states[0], states[1])

    purges = _records(page.tables["purges-summary"])
    by_scope = {p["Scope"]: p for p in purges if p.get("Entry", "").isdigit()}
    older, theirs = by_scope["older-than:365"], by_scope[f"patron:{hashed_patron(patron)[:12]}…"]
    assert _n(older["Patrons removed"]) > 0 and _n(older["Other rows deleted"]) > 0   # nested counts summed
    _check_against_ils(_by_table(page, f"purge-{older['Entry']}-tables"), older, states[1], states[2])
    assert _n(theirs["Rows de-identified"]) > 0
    _check_against_ils(_by_table(page, f"purge-{theirs['Entry']}-tables"), theirs, states[2], states[3])
    [total] = [p for p in purges if p["Entry"].startswith("All ")]   # the footer: both purges together
    assert _n(total["Total rows changed"]) == _n(older["Total rows changed"]) + _n(theirs["Total rows changed"])

    # no patron value: not the number as written in the scope, nor their card, email or name, nor the full hash
    assert f"patron:{patron}" not in text and hashed_patron(patron) not in text
    for value in values:
        assert value not in text
    prose = " ".join(page.prose).replace(str(tmp_path), "")      # the checks name the checkpoint files
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", prose), "a snake_case code reached the page's prose"


# ----------------------------------------------------------------------------- sums, scopes, labels
def test_a_purge_counts_every_table_once_and_a_patron_once():
    tally = Tally()
    tally.add_nested({"borrowers": {"anonymised": 48, "deleted": 48},
                      "old_issues": {"aggregated": 300, "stripped": 300, "scrubbed": 12},
                      "borrower_attributes": {"deleted": 100}, "message_queue": {"deleted": 72},
                      "housebound_visit": {"staff_links_cleared": 2}, "search_history": 40})
    assert tally.patrons_removed == 48 and tally.other_deleted == 172 and tally.stripped == 300
    assert tally.staff_links_cleared == 2 and tally.unspecified == 40 and tally.aggregated == 300
    assert tally.total == 48 + 172 + 300 + 2 + 40


@pytest.mark.parametrize("written", ["older-than:365", "older-than:0", "older-than:30"])
def test_an_older_than_scope_is_shown_as_written(written):
    assert scope_as_written(parse_scope(written).as_dict()) == written


def test_a_patron_scope_is_shown_with_the_keyed_hash_never_the_number():
    scope = parse_scope("patron:1234")
    recorded = {**scope.as_dict(), "borrowernumber": None, "patron_hash": hashed_patron(1234)}  # as purge.py writes
    assert scope_as_written(recorded) == f"patron:{hashed_patron(1234)[:12]}…"
    assert scope_as_written({"kind": "patron", "days": None, "borrowernumber": None}) == "patron:(not recorded)"
    assert scope_as_written("director purge of search_history") == "director purge of search_history"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.engine.dispose()


def test_hostile_payload_text_is_escaped_everywhere(store, tmp_path):
    record_event(store, "legal-hold-placed", {"hold_id": HOSTILE, "patron_hash": HOSTILE, "reference": HOSTILE})
    record_event(store, "purge", {"scope": HOSTILE, "counts": {HOSTILE: {"deleted": 1}},
                                  "authorized_by": HOSTILE, "policy_version": HOSTILE})
    record_event(store, "decision", {"outcome": HOSTILE, "action": HOSTILE, "clauses": [HOSTILE],
                                     "obligations": ['"><img src=x onerror=alert(1)>'], "request_sha256": HOSTILE})
    record_event(store, "obligation-opened", {"obligation_id": 1, "code": 'call_"><img src=x onerror=alert(1)>',
                                              "request_id": HOSTILE})
    record_event(store, "retention-run", {"as_of": HOSTILE, "policy": {"library": HOSTILE, "version": HOSTILE},
                                          "tables": [{"table": HOSTILE, "stripped": 3}], "verified": True})
    record_event(store, "audit-repinned", {"reason": HOSTILE, "previous_pin": {"log_id": HOSTILE, "tree_size": 3}})
    record_event(store, "<img src=x onerror=alert(1)>", {"note": "an unknown kind"})
    page = render_board_report(store, tmp_path / "board.html").read_text()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'title="call_&#34;&gt;&lt;img' in page      # in an attribute too: the quote cannot close it


def test_the_page_is_self_contained_numbers_are_grouped_and_verification_comes_first(store, tmp_path):
    record_event(store, "retention-run", {"as_of": "2026-06-30", "policy": {"library": "Westport", "version": "1"},
                                          "tables": [{"table": "old_issues", "aggregated": 1_020_001,
                                                      "stripped": 1_020_001}], "verified": True})
    record_event(store, "retention-recovered", {"completed": 1, "abandoned": 0, "runs": [{"run_id": "r0", "batches": [
        {"batch_id": "b1", "table": "borrowers", "status": "done", "rows": 48,
         "counts": {"borrowers": {"anonymised": 48, "deleted": 48}, "borrower_attributes": {"deleted": 472}}}]}]})
    text = render_board_report(store, tmp_path / "board.html").read_text()
    page = _parse(text)
    for absent in ("<script", "<link", "src=", "http://", "https://", "@import", "url("):
        assert absent not in text, absent
    assert text.count("<style>") == 1 and text.startswith("<!DOCTYPE html>")
    assert text.index('id="integrity"') < text.index("Checks actually made") < text.index('id="summary"') \
        < text.index('id="decisions"')
    runs = _records(page.tables["retention-summary"])
    assert runs[0]["Total rows changed"] == "1,020,001" and runs[0]["Rows de-identified"] == "1,020,001"
    assert runs[1]["Run"].startswith("Recovery of a killed run's work") and runs[1]["Patrons removed"] == "48"
    assert runs[1]["Other rows deleted"] == "472" and runs[1]["Total rows changed"] == "520"
    assert runs[2]["Total rows changed"] == "1,020,521"                       # the footer
    prose = " ".join(page.prose)
    assert "Retention run" in prose and "Recovery of a killed run's work" in prose
    assert "retention-recovered" not in prose and "retention-run" not in prose


def test_the_templates_ship_in_the_wheel():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(d.lower().startswith("jinja2") for d in data["project"]["dependencies"])
    globs = data["tool"]["setuptools"]["package-data"]["patronguard.audit"]
    shipped = resources.files("patronguard.audit") / "templates"
    names = [p.name for p in shipped.iterdir() if p.is_file()]
    assert "board_report.html.j2" in names
    for name in names:
        assert any(re.fullmatch(g.replace("templates/", "").replace(".", r"\.").replace("*", ".*"), name)
                   for g in globs), f"{name} is not in pyproject's package-data"
    assert "html.escape" not in (ROOT / "patronguard/audit/report.py").read_text()
