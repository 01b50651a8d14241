"""new_registrations: patrons enrolled per period, branch, category and age band at enrolment — live borrowers,
Koha's deleted copies and the warehouse's removed patrons, each counted once, the same before and after a
retention run; a store upgraded from before migration 9 keeps its counts and refuses what it lacks in one line."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from patronguard.errors import InputError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.aggregate import AGE_BANDS
from patronguard.retention.ledger import Deltas, apply_deltas
from patronguard.retention.run import run_retention
from patronguard.stats.query import check_answerable
from patronguard.stats.request import parse_stats_request
from patronguard.store import open_store
from patronguard.store.migrations import MIGRATIONS, _schema_migrations, current_version
from test_stats_query import counts

AS_OF = SMALL_SPEC["until"]
#: the patrons table first, then Koha's copies of patrons deleted by staff
PATRON_TABLES = ("borrowers", "deletedborrowers")
OLD_COLUMNS = ("expiry_year", "branch", "patron_category", "age_band", "enrolled_year")


def _band(enrolled, born) -> str:
    if enrolled is None or born is None:
        return "?"
    years = int(str(enrolled)[:4]) - int(str(born)[:4])
    return next((label for lo, hi, label in AGE_BANDS if lo <= years <= hi), "?")


def hand_registrations(ils_url: str) -> Counter:
    """(month, branch, category, age band at enrolment) -> patrons, by plain SQL over both patron tables."""
    engine = sa.create_engine(ils_url)
    out: Counter = Counter()
    with engine.connect() as conn:
        anon = conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")).scalar()
        for table in PATRON_TABLES:
            rows = conn.execute(sa.text(
                f"SELECT dateenrolled, branchcode, categorycode, dateofbirth, COUNT(*) FROM {table} "
                "WHERE dateenrolled IS NOT NULL AND borrowernumber <> :anon "
                "GROUP BY dateenrolled, branchcode, categorycode, dateofbirth"),
                {"anon": int(anon or -1) if table == "borrowers" else -1})   # the AnonymousPatron is no one
            for enrolled, branch, category, born, n in rows:
                out[(str(enrolled)[:7], branch or "?", category or "?", _band(enrolled, born))] += int(n)
    engine.dispose()
    return out


def projected(cells: Counter, positions: tuple[int, ...], period=lambda month: month) -> dict[tuple, int]:
    out: Counter = Counter()
    for cell, n in cells.items():
        out[tuple(period(cell[0]) if i == 0 else cell[i] for i in positions)] += n
    return dict(out)


def quarter(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) + 2) // 3}"


@pytest.fixture
def private_ils(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        yield url


def test_registrations_equal_hand_sql_on_the_shared_library(small_ils_url, tmp_path):
    """Before any run (live patrons and deleted copies only), on each backend, at every period we derive."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    hand = hand_registrations(small_ils_url)
    assert sum(hand.values()) > 250 and len({c[0] for c in hand}) > 12
    found = counts(small_ils_url, store_url, "month,branch,patron_category", "new_registrations")
    assert found.values["new_registrations"] == projected(hand, (0, 1, 2))
    assert found.patrons["new_registrations"] == found.values["new_registrations"]  # one patron each
    by_quarter = counts(small_ils_url, store_url, "quarter,age_band", "new_registrations")
    assert by_quarter.values["new_registrations"] == projected(hand, (0, 3), quarter)
    by_week = counts(small_ils_url, store_url, "week", "new_registrations")   # no removal yet: days are live
    assert by_week.total("new_registrations") == sum(hand.values()) and len(by_week.values["new_registrations"]) > 50
    year = sorted({c[0][:4] for c in hand})[1]
    one_branch = counts(small_ils_url, store_url, "year", "new_registrations", where=[f"year={year}"],
                        **{"from": f"{year}-01-01", "to": f"{year}-06-30"})
    assert one_branch.total("new_registrations") == sum(
        n for c, n in hand.items() if c[0][:4] == year and c[0][5:7] <= "06")


def _scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(sa.text(sql)).scalar() or 0)
    engine.dispose()
    return value


def test_the_same_figures_after_retention_removed_patrons_and_purged_deleted_copies(private_ils, tmp_path):
    """Expired patrons leave borrowers, and Koha's copies of patrons deleted by staff leave deletedborrowers
    (Westchester: after 30 days), for the warehouse: every cell stays as the hand SQL counted it before."""
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    hand = hand_registrations(private_ils)
    copies_before = _scalar(private_ils, "SELECT COUNT(*) FROM deletedborrowers")
    by = "month,branch,patron_category,age_band"
    before = counts(private_ils, store_url, by, "new_registrations").values["new_registrations"]
    assert before == dict(hand)
    run = run_retention(private_ils, str(ROOT / "policy/westchester.yaml"), store_url=store_url, as_of=AS_OF,
                        batch_size=50)
    removed = _scalar(store_url, "SELECT SUM(patrons) FROM stats_patrons_removed WHERE removed_as = 'expired'")
    purged = _scalar(store_url, "SELECT SUM(patrons) FROM stats_patrons_removed WHERE removed_as = 'deleted_in_koha'")
    assert removed > 10 and run.verification.ok
    assert purged > 0 and purged == copies_before - _scalar(private_ils, "SELECT COUNT(*) FROM deletedborrowers")
    assert sum(hand_registrations(private_ils).values()) < sum(hand.values())    # they left the ILS …
    after = counts(private_ils, store_url, by, "new_registrations").values["new_registrations"]
    assert after == before                                                      # … and are counted once
    by_year = counts(private_ils, store_url, "year", "new_registrations,removed_patrons")
    assert by_year.values["new_registrations"] == projected(hand, (0,), lambda m: m[:4])
    assert by_year.total("removed_patrons") == removed       # staff deletions are not removals by retention
    with pytest.raises(InputError, match=r"patrons removed by retention.*ask by month") as info:
        counts(private_ils, store_url, "week,branch", "new_registrations")
    assert "\n" not in str(info.value)


def test_copies_purged_uncounted_before_migration_9_are_refused_not_undercounted(small_ils_sqlite_copy, tmp_path):
    """A purge of deleted-patron copies by a run before migration 9 kept no count (its batch holds none):
    registrations would fall short, so they are refused with how many."""
    from patronguard.retention.ledger import Deltas

    ils, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=store_url, as_of=AS_OF, batch_size=200)
    assert counts(ils, store_url, "year", "new_registrations").total("new_registrations") > 0
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:       # the purge batches as a run before migration 9 wrote them: no counts
        rows = conn.execute(sa.text("SELECT batch_id, deltas FROM retention_batches "
                                    "WHERE table_name = 'deletedborrowers' AND status = 'done'")).all()
        for batch_id, blob in rows:
            deltas = Deltas.from_blob(blob)
            deltas.patrons_removed = {}
            conn.execute(sa.text("UPDATE retention_batches SET deltas = :d WHERE batch_id = :b"),
                         {"d": deltas.to_blob(), "b": batch_id})
    engine.dispose()
    assert rows
    with pytest.raises(InputError, match=r"^--measures: new_registrations cannot be complete: [\d,]+ copies") as info:
        counts(ils, store_url, "year", "new_registrations")
    assert "\n" not in str(info.value) and "before store migration 9" in str(info.value)
    assert counts(ils, store_url, "year", "removed_patrons").total("removed_patrons") > 0   # others unaffected


def keeping_deleted_copies(tmp_path: Path) -> str:
    """Westchester's policy, but Koha's deleted-patron copies kept: a run's removals are expired patrons only,
    as in a store from before migration 9."""
    text = (ROOT / "policy/westchester.yaml").read_text()
    before = "- records: deleted_patrons\n      keep_days: 30\n"
    assert before in text
    path = tmp_path / "keeps-deleted.yaml"
    path.write_text(text.replace(before, "- records: deleted_patrons\n      keep_days: 36500\n"))
    return str(path)


def _store_at_version_7(url: str) -> None:
    """A store as patronguard left it before migration 9 (the first seven migrations, each recorded)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _schema_migrations.create(conn)
        for migration in MIGRATIONS:
            if migration.version <= 7:
                migration.upgrade(conn)
                conn.execute(_schema_migrations.insert().values(
                    version=migration.version, name=migration.name, applied_at=dt.datetime(2026, 1, 1)))
    engine.dispose()


@pytest.fixture
def old_store_url(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        yield url


def test_a_store_from_before_migration_9_keeps_its_counts_and_refuses_months(small_ils_sqlite_copy, old_store_url,
                                                                             tmp_path):
    """A real run's removals, as a version-7 store kept them (no month), upgrade with every count kept: by year
    the registrations are complete; by month, or by age band at enrolment, refused in one line with how many
    (the old store on each backend: migration 9 rebuilds the table there)."""
    ils, old_url = f"sqlite:///{small_ils_sqlite_copy}", old_store_url
    hand = hand_registrations(ils)
    new_store = f"sqlite:///{tmp_path / 'new.db'}"
    run_retention(ils, keeping_deleted_copies(tmp_path), store_url=new_store, as_of=AS_OF, batch_size=200)
    engine = sa.create_engine(new_store)
    with engine.connect() as conn:
        cols = ", ".join(OLD_COLUMNS)
        kept = conn.execute(sa.text(f"SELECT {cols}, SUM(patrons) FROM stats_patrons_removed GROUP BY {cols}")).all()
    engine.dispose()
    _store_at_version_7(old_url)
    engine = sa.create_engine(old_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO stats_patrons_removed ({cols}, patrons) VALUES "
                             "(:expiry_year, :branch, :patron_category, :age_band, :enrolled_year, :patrons)"),
                     [dict(zip((*OLD_COLUMNS, "patrons"), row)) for row in kept])
    engine.dispose()
    removed = sum(row[-1] for row in kept)
    store = open_store(old_url)
    assert current_version(store.engine) >= 9
    store.engine.dispose()
    assert counts(ils, old_url, "year", "removed_patrons").total("removed_patrons") == removed
    by_year = counts(ils, old_url, "year,branch,patron_category", "new_registrations").values["new_registrations"]
    assert by_year == projected(hand, (0, 1, 2), lambda m: m[:4])
    part_year = {"from": f"{min(row[4] for row in kept if row[4])}-04-01"}   # a year some removed enrolled in
    for by, extra, what in (("month", {}, "enrolment month"), ("year", part_year, "enrolment month"),
                            ("year,age_band", {}, "age band at enrolment")):
        with pytest.raises(InputError, match=rf"[\d,]+ patrons removed .*no {what} kept: ask by year") as info:
            counts(ils, old_url, by, "new_registrations", **extra)
        assert "\n" not in str(info.value)


def test_a_batch_prepared_before_migration_9_completes_with_its_month_marked_not_kept(tmp_path):
    """A ledger blob of the old shape (five-part keys), recovered after the upgrade, still adds its patrons."""
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    old = Deltas()
    old.patrons_removed[(2027, "MAIN", "PT", "25-44", 2019)] = 3
    with store.engine.begin() as conn:
        apply_deltas(conn, store, Deltas.from_blob(old.to_blob()))
    new = Deltas()
    new.patrons_removed[(2027, "MAIN", "PT", "25-44", 2019, "2019-05", "18-24", "expired")] = 2
    new.patrons_removed[(2027, "MAIN", "PT", "25-44", 2019, "2019-05", "18-24", "deleted_in_koha")] = 1
    with store.engine.begin() as conn:
        apply_deltas(conn, store, Deltas.from_blob(new.to_blob()))
        rows = conn.execute(sa.text("SELECT enrolled_month, enrolled_age_band, removed_as, patrons "
                                    "FROM stats_patrons_removed ORDER BY enrolled_month, removed_as")).all()
    store.engine.dispose()
    assert [tuple(r) for r in rows] == [("2019-05", "18-24", "deleted_in_koha", 1), ("2019-05", "18-24", "expired", 2),
                                        ("?", "?", "expired", 3)]


@pytest.mark.parametrize("by, message", [
    ("month,itemtype", "not by itemtype"), ("year,collection", "not by collection"),
    ("location", "location"),
])
def test_what_a_registration_does_not_have_is_refused(by, message):
    request = parse_stats_request(by=by, measures="new_registrations", requester="c")
    with pytest.raises(InputError, match=message) as info:
        check_answerable(request)
    assert "\n" not in str(info.value)
