"""Every supported Koha release line, end to end: report → run → verify → second run.

Each line's database is created with that line's own tables and columns
(``ils init --koha-version``) and populated with realistic rows in every
patron-bearing table. After the run, hand-written SQL per table (tests/hand_sql*.py,
independent of the PII map) finds no row past its period that identifies a patron
without an exemption, and every recent row is kept (unless its patron was removed).
MariaDB for every line (Koha's own database); SQLite and PostgreSQL for the current line.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from conftest import ROOT
from dbs import fresh_database
from hand_sql import HAND_SQL
from hand_sql_more import MORE, hand_counts_any
from patronguard.ils import LibrarySpec, init_ils
from patronguard.ils.piimap import builtin_pii_map
from patronguard.ils.release import supported_lines
from patronguard.retention.engine import WITH_PATRON
from patronguard.retention.report import exposure_report
from patronguard.retention.run import run_retention, verify_only

AS_OF = dt.date(2026, 6, 30)
SPEC = dict(patrons=300, loans=3000, years=3, seed=5, until=AS_OF)
PATRON_AGED = {"borrower_attributes", "borrower_relationships"}   # aged by the patron's expiry


def _has_column(engine):
    inspector = sa.inspect(engine)
    cache: dict[str, set[str]] = {}

    def has(table: str, column: str) -> bool:
        if table not in cache:
            cache[table] = ({c["name"] for c in inspector.get_columns(table)}
                            if table in inspector.get_table_names() else set())
        return column in cache[table]
    return has


def _recent_rows(conn, shape_tables: set[str], cutoffs: dict[str, dt.date], anon: int) -> dict[str, set]:
    """Per scheduled history table: (key…, patron) of rows dated on or after the cutoff that identify a patron."""
    pii_map = builtin_pii_map()
    out = {}
    for name, cutoff in cutoffs.items():
        tm = pii_map.tables[name]
        if name not in shape_tables or tm.lifecycle != "history" or tm.age_via_patron or not tm.key:
            continue
        link = tm.link
        cols = ", ".join(tm.key)
        anon_clause = f" AND {link} <> :anon" if tm.links_patron_key else ""
        rows = conn.execute(sa.text(f"SELECT {cols}, {link} FROM {name} WHERE {link} IS NOT NULL{anon_clause} "
                                    f"AND {tm.age} >= :cut"), {"anon": anon, "cut": cutoff}).all()
        out[name] = {tuple(r) for r in rows}
    return out


def _patrons(conn) -> set[int]:
    return set(conn.execute(sa.text("SELECT borrowernumber FROM borrowers")).scalars().all())


def _run_line(url: str, tmp_path, policy: str, expect_line: str) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    policy_path = str(ROOT / f"policy/{policy}.yaml")
    engine = sa.create_engine(url)
    has = _has_column(engine)
    report = exposure_report(url, policy_path, store_url=store_url, as_of=AS_OF)
    cutoffs = {t.table: t.cutoff for t in report.tables}
    with engine.connect() as conn:
        anon = int(conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'"))
                   .scalar())
        present = set(sa.inspect(engine).get_table_names())
        recent = _recent_rows(conn, present, cutoffs, anon)
        patrons_before = _patrons(conn)
    unknown = [t.table for t in report.tables if t.table not in HAND_SQL and t.table not in MORE]
    assert not unknown, f"write hand SQL for {unknown} in tests/hand_sql_more.py"
    assert sum(t.actionable for t in report.tables) > 0, "the generated library has nothing past retention"

    run = run_retention(url, policy_path, store_url=store_url, as_of=AS_OF, batch_size=500)
    assert run.verification.ok and run.plan is not None
    assert run.plan.release.startswith("Koha ") and (expect_line in run.plan.release)
    with engine.connect() as conn:
        for t in report.tables:
            counts = hand_counts_any(conn, t.table, t.cutoff, anon, [], has, AS_OF)
            assert counts["actionable"] == 0, f"{t.table}: {counts['actionable']} rows past retention still identify"
        removed = patrons_before - _patrons(conn)
        after = _recent_rows(conn, present, cutoffs, anon)
    pii_map = builtin_pii_map()
    for table, rows in recent.items():
        tm = pii_map.tables[table]
        if tm.link_to == "cardnumber":
            continue  # removed with their patron by card number; the hand SQL above checks what is past
        if tm.link_to == "pseudonym":
            expected = rows
        else:  # patrons removed by the run take their rows along; rows of patrons gone before are orphans
            expected = {r for r in rows if r[-1] not in removed and (r[-1] in patrons_before
                                                                     or r[-1] == tm.unlinked_value)}
        lost = expected - after.get(table, set())
        assert not lost, f"{table}: {len(lost)} recent rows were changed although their patron stays"
    if removed:
        assert any(o.records == WITH_PATRON for o in run.tables) or all(
            o.deleted == 0 for o in run.tables if o.table != "borrowers"), "side deletions are reported"
    assert verify_only(url, policy_path, store_url=store_url, as_of=AS_OF).ok

    again = run_retention(url, policy_path, store_url=store_url, as_of=AS_OF, batch_size=500)
    changed = {o.table: (o.stripped, o.deleted, o.anonymised) for o in again.tables
               if o.stripped or o.deleted or o.anonymised}
    assert changed == {}, f"a second run changed more: {changed}"
    engine.dispose()


@pytest.mark.parametrize("line", supported_lines())
def test_each_release_line_on_mariadb(line, tmp_path):
    with fresh_database("mariadb", tmp_path) as url:
        init_ils(url, LibrarySpec(**SPEC), koha_version=line)
        _run_line(url, tmp_path, "westchester", line)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_current_line_on_sqlite_and_postgresql(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SPEC), koha_version="current")
        _run_line(url, tmp_path, "westport", "current")
