"""The retention run on SQLite, MariaDB and PostgreSQL, checked with hand-written SQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from checksums import table_checksums
from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from hand_sql_more import hand_counts_any
from patronguard.retention.engine import WITH_PATRON
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.run import run_retention, verify_only
from patronguard.retention.scrub import PatronIdentifiers, scrub_text
from patronguard.store import open_store
from patronguard.workflow.requests import place_hold_now

AS_OF = SMALL_SPEC["until"]
POLICY = str(ROOT / "policy/westchester.yaml")
AGGREGATED = {"old_issues": "borrowernumber", "old_reserves": "borrowernumber", "accountlines": "borrowernumber",
              "statistics": "borrowernumber"}
LINKS = {  # every column that can point at a patron, table by table
    "old_issues": ["borrowernumber"], "issues": ["borrowernumber"], "old_reserves": ["borrowernumber"],
    "reserves": ["borrowernumber"], "statistics": ["borrowernumber"], "accountlines": ["borrowernumber"],
    "message_queue": ["borrowernumber"], "items_last_borrower": ["borrowernumber"], "search_history": ["userid"],
    "borrower_attributes": ["borrowernumber"], "borrower_relationships": ["guarantor_id", "guarantee_id"],
    "borrower_modifications": ["borrowernumber"], "borrowers": ["borrowernumber"],
}


@pytest.fixture
def ils_url(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        yield url


def anonymous_patron(conn) -> int:
    return int(conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar())


def anon_linked(conn, anon: int) -> dict[str, int]:
    return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE {c} = :a"), {"a": anon}).scalar()
            for t, c in AGGREGATED.items()}


def warehouse(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT source, SUM(events) FROM stats_circulation GROUP BY source")).all())
    engine.dispose()
    return {k: int(v) for k, v in rows.items()}


def test_run_strips_everything_due_and_the_warehouse_counts_each_row_once(ils_url, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        anon = anonymous_patron(conn)
        linked_before = anon_linked(conn, anon)
    run = run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, batch_size=400)
    assert run.verification.ok and run.batch_ids
    has = lambda table, column: column in {c["name"] for c in sa.inspect(engine).get_columns(table)}  # noqa: E731
    with engine.connect() as conn:
        for t in run.tables:  # nothing past retention identifies a patron unless exempt
            if t.records == WITH_PATRON:
                continue  # changed only because their patron was removed; not scheduled themselves
            assert hand_counts_any(conn, t.table, t.cutoff, anon, [], has, AS_OF)["actionable"] == 0, t.table
        linked_after = anon_linked(conn, anon)
    newly_anonymous = {t: linked_after[t] - linked_before[t] for t in AGGREGATED}
    assert warehouse(store_url) == newly_anonymous          # exactly once, table by table
    assert newly_anonymous["old_issues"] == next(t.stripped for t in run.tables if t.table == "old_issues") > 0

    again = run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, batch_size=400)
    assert again.batch_ids == [] and warehouse(store_url) == newly_anonymous
    assert verify_only(ils_url, POLICY, store_url=store_url, as_of=AS_OF).ok
    engine.dispose()


def test_dry_run_writes_nothing_to_the_ils(ils_url, tmp_path):
    before = table_checksums(ils_url)
    run = run_retention(ils_url, POLICY, store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF, dry_run=True)
    assert run.dry_run and sum(t.actionable for t in run.before.tables) > 0
    assert table_checksums(ils_url) == before


def test_expired_patrons_leave_no_trace_and_are_counted(ils_url, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        before = set(conn.execute(sa.text("SELECT borrowernumber FROM borrowers")).scalars())
    run = run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, batch_size=50)
    with engine.connect() as conn:
        removed = before - set(conn.execute(sa.text("SELECT borrowernumber FROM borrowers")).scalars())
        assert len(removed) == next(t.deleted for t in run.tables if t.table == "borrowers") > 0
        for table, columns in LINKS.items():
            for column in columns:
                left = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} IN :ids")
                                    .bindparams(sa.bindparam("ids", sorted(removed), expanding=True))).scalar()
                assert left == 0, f"{table}.{column} still names a removed patron"
        action_logs = conn.execute(sa.text(
            "SELECT COUNT(*) FROM action_logs WHERE object IN :ids AND module IN ('MEMBERS','CIRCULATION')")
            .bindparams(sa.bindparam("ids", sorted(removed), expanding=True))).scalar()
        assert action_logs == 0
    engine.dispose()
    store = sa.create_engine(store_url)
    with store.connect() as conn:
        kept = dict(conn.execute(sa.text(
            "SELECT removed_as, SUM(patrons) FROM stats_patrons_removed GROUP BY removed_as")).all())
    assert kept.get("expired") == len(removed)
    # Koha's copies of patrons deleted by staff, purged by the run, are counted too (registrations), apart
    copies = next((t.deleted for t in run.tables if t.table == "deletedborrowers"), 0)
    assert int(kept.get("deleted_in_koha") or 0) == copies
    store.dispose()


def test_legal_hold_keeps_a_patrons_records(ils_url, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        anon = anonymous_patron(conn)
        held = conn.execute(sa.text(
            "SELECT o.borrowernumber FROM old_issues o JOIN borrowers b ON b.borrowernumber = o.borrowernumber "
            "WHERE b.privacy <> 0 AND o.borrowernumber <> :a GROUP BY o.borrowernumber "
            "ORDER BY COUNT(*) DESC, o.borrowernumber LIMIT 1"), {"a": anon}).scalar()
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE {c} = :p"), {"p": held}).scalar()
                  for t, c in AGGREGATED.items()}
    place_hold_now(open_store(store_url), held, reason="court order (test)", placed_by="director")
    run_retention(ils_url, POLICY, store_url=store_url, as_of=AS_OF, batch_size=300)
    with engine.connect() as conn:
        after = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE {c} = :p"), {"p": held}).scalar()
                 for t, c in AGGREGATED.items()}
    engine.dispose()
    assert after == counts and counts["old_issues"] > 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_free_text_loses_the_patrons_identifiers(ils_url, tmp_path):
    """On servers the scrubbed texts are written by CASE statements, on SQLite row by row: same result."""
    engine = sa.create_engine(ils_url)
    query = sa.text(
        "SELECT o.issue_id, o.note, b.firstname, b.surname, b.othernames, b.cardnumber, b.email, b.phone, b.mobile "
        "FROM old_issues o JOIN borrowers b "
        "ON b.borrowernumber = o.borrowernumber WHERE o.note IS NOT NULL AND b.privacy <> 0 AND o.returndate < :cut "
        "AND o.issue_id NOT IN (SELECT a.old_issue_id FROM accountlines a "
        "WHERE a.amountoutstanding > 0 AND a.old_issue_id IS NOT NULL)")
    cut = "2026-05-01"
    with engine.connect() as conn:
        noted = [r for r in conn.execute(query, {"cut": cut}) if r.surname and r.surname in r.note]
    assert noted, "the generator should write notes that name patrons"
    run_retention(ils_url, POLICY, store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    with engine.connect() as conn:
        for issue_id, before, first, last, other, card, email, phone, mobile in noted:
            note = conn.execute(sa.text("SELECT note FROM old_issues WHERE issue_id = :i"), {"i": issue_id}).scalar()
            assert last not in note and "[name]" in note
            # each row got its own text back, scrubbed of its own patron
            who = PatronIdentifiers.from_values(first, last, other, card, email, (phone, mobile))
            assert note == scrub_text(before, who)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_batch_size_does_not_change_the_warehouse(backend, tmp_path):
    stores = []
    for size in (37, 20_000):
        with fresh_database("sqlite", tmp_path / str(size)) as url:
            (tmp_path / str(size)).mkdir()
            init_ils(url, LibrarySpec(**SMALL_SPEC))
            store_url = f"sqlite:///{tmp_path / str(size) / 'store.db'}"
            run_retention(url, POLICY, store_url=store_url, as_of=AS_OF, batch_size=size)
            stores.append(store_url)
    dumps = []
    for store_url in stores:
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            dumps.append({t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}"))))
                          for t in ("stats_circulation", "stats_distinct_patrons", "stats_patrons_removed")})
        engine.dispose()
    assert dumps[0] == dumps[1] and dumps[0]["stats_circulation"] and dumps[0]["stats_distinct_patrons"]
