"""Statistics by shelving location (Koha's ``items.location`` / ``statistics.location``): warehouse and live ILS
merged, every row counted once before and after a retention run and while a killed run is half done, on all
three backends; an old store's warehouse rows keep their counts under location "?"; bad filters refused."""
from __future__ import annotations

import signal
from collections import defaultdict

import pytest
import sqlalchemy as sa

from conftest import SMALL_SPEC
from dbs import fresh_database, migrate_store_to
from patronguard.errors import InputError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.ledger import Deltas, apply_deltas, pack_json, unpack_json
from patronguard.retention.report import opened_ils
from patronguard.stats.query import check_answerable, check_where_values
from patronguard.stats.request import parse_stats_request
from patronguard.store import opened_store
from test_stats_query import counts, linked_old_issues, retention

#: hand SQL, independent of the code under test: per measure, rows by the item's shelving location ("?": none)
_ITEM_LOCATION = "COALESCE(i.location, '?')"
HAND = {
    "checkouts": [f"SELECT {_ITEM_LOCATION}, COUNT(*) FROM {t} t LEFT JOIN items i ON i.itemnumber = t.itemnumber "
                  f"GROUP BY {_ITEM_LOCATION}" for t in ("issues", "old_issues")],
    "renewals": [f"SELECT {_ITEM_LOCATION}, SUM(t.renewals_count) FROM {t} t LEFT JOIN items i "
                 f"ON i.itemnumber = t.itemnumber GROUP BY {_ITEM_LOCATION}" for t in ("issues", "old_issues")],
    "returns": ["SELECT COALESCE(location, '?'), COUNT(*) FROM statistics WHERE type = 'return' "
                "GROUP BY COALESCE(location, '?')"],
    # holds keep no location (their aggregate spec names none, like the collection): all "?"
    "holds_placed": ["SELECT '?', COUNT(*) FROM reserves", "SELECT '?', COUNT(*) FROM old_reserves"],
    "holds_filled": ["SELECT '?', COUNT(*) FROM old_reserves WHERE found = 'F'"],
}


def by_location_by_hand(ils_url: str) -> dict[str, dict[tuple, int]]:
    engine = sa.create_engine(ils_url)
    out: dict[str, dict[tuple, int]] = {}
    with engine.connect() as conn:
        for measure, queries in HAND.items():
            cells: dict[tuple, int] = defaultdict(int)
            for sql in queries:
                for location, n in conn.execute(sa.text(sql)):
                    cells[(str(location),)] += int(n or 0)
            out[measure] = {k: v for k, v in cells.items() if v}
    engine.dispose()
    return out


def nonzero(found) -> dict[str, dict[tuple, int]]:
    return {m: {k: v for k, v in cells.items() if v} for m, cells in found.values.items()}


def warehouse_locations(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT location, SUM(events) FROM stats_circulation GROUP BY location")).all()
    engine.dispose()
    return {str(k): int(v) for k, v in rows}


@pytest.fixture
def library(backend, tmp_path):
    """A fresh small ILS and an empty store, both on ``backend`` (the run changes the ILS: not the shared one)."""
    with fresh_database(backend, tmp_path) as ils_url, fresh_database(backend, tmp_path) as store_url:
        init_ils(ils_url, LibrarySpec(**SMALL_SPEC))
        yield ils_url, store_url


def test_totals_and_cells_by_location_equal_the_ils_before_and_after_retention(library):
    ils_url, store_url = library
    expected = by_location_by_hand(ils_url)
    locations = {k[0] for k in expected["checkouts"]}
    assert {"GEN", "CHILD", "AV", "NEW"} <= locations      # the generator shelves items in several places
    assert nonzero(counts(ils_url, store_url, "location")) == expected
    before_cells = nonzero(counts(ils_url, store_url, "month,location"))
    linked_before = linked_old_issues(ils_url)

    done = retention(ils_url, store_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert linked_old_issues(ils_url) < linked_before / 2          # most of the history is in the warehouse now
    kept = warehouse_locations(store_url)
    assert set(kept) - {"?"} and kept.get("CHILD", 0) > 0          # the warehouse holds real locations

    assert nonzero(counts(ils_url, store_url, "location")) == expected
    assert nonzero(counts(ils_url, store_url, "month,location")) == before_cells   # every cell, not only totals
    # a filter takes exactly its location's rows, warehouse and live alike (a bound value)
    child = counts(ils_url, store_url, "month", "checkouts", where=["location=CHILD"])
    assert child.total("checkouts") == expected["checkouts"][("CHILD",)]


def test_a_killed_run_leaves_totals_by_location_whole(small_ils_sqlite_copy, tmp_path):
    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    expected = by_location_by_hand(ils_url)
    before_cells = nonzero(counts(ils_url, store_url, "week,location,branch", "checkouts,returns"))
    killed = retention(ils_url, store_url, "after-ils-commit:3")   # stripped in the ILS, not yet in the warehouse
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert nonzero(counts(ils_url, store_url, "location")) == expected
    assert nonzero(counts(ils_url, store_url, "week,location,branch", "checkouts,returns")) == before_cells
    assert retention(ils_url, store_url).returncode == 0        # recovery completes the batch, then the rest
    assert nonzero(counts(ils_url, store_url, "location")) == expected
    assert nonzero(counts(ils_url, store_url, "week,location,branch", "checkouts,returns")) == before_cells


# ----------------------------------------------------------------------------- store migration 8
_V7_ROWS = [  # (source, event, day, branch, itemtype, ccode, patron_category, age_band, events, renewals, amount)
    ("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "PT", "25-44", 7, 2, "0.00"),
    ("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "PT", "45-64", 3, 0, "0.00"),
    ("old_issues", "loan", "2024-03-02", "NORTH", "DVD", "FILM", "J", "0-12", 11, 5, "0.00"),
    ("statistics", "return", "2024-03-02", "NORTH", "DVD", "FILM", "?", "?", 4, 0, "0.00"),
    ("accountlines", "PAYMENT", "2024-04-10", "MAIN", "?", "?", "PT", "65+", 2, 0, "-3.50"),
]
_V7_COLUMNS = ("source", "event", "day", "branch", "itemtype", "ccode", "patron_category", "age_band", "events",
               "renewals", "amount")


def _store_at_migration_7_with_rows(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        migrate_store_to(engine, 7)
        insert = sa.text(f"INSERT INTO stats_circulation ({', '.join(_V7_COLUMNS)}) "
                         f"VALUES ({', '.join(':' + c for c in _V7_COLUMNS)})")
        with engine.begin() as conn:
            for row in _V7_ROWS:
                values = dict(zip(_V7_COLUMNS, row))
                conn.execute(insert, values | {"day": __import__("datetime").date.fromisoformat(values["day"])})
    finally:
        engine.dispose()


def _warehouse_rows(store) -> set[tuple]:
    t = store["stats_circulation"]
    with store.engine.connect() as conn:
        return {(r.source, r.event, str(r.day)[:10], r.branch, r.itemtype, r.ccode, r.location, r.patron_category,
                 r.age_band, int(r.events), int(r.renewals), f"{r.amount:.2f}") for r in conn.execute(sa.select(t))}


def test_a_store_at_migration_7_upgrades_keeping_every_row_under_location_unknown(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        _store_at_migration_7_with_rows(url)
        with opened_store(url) as store:
            assert _warehouse_rows(store) == {(*r[:6], "?", *r[6:]) for r in _V7_ROWS}
            key = sa.inspect(store.engine).get_pk_constraint("stats_circulation")["constrained_columns"]
            assert set(key) == {"source", "event", "day", "branch", "itemtype", "ccode", "location",
                                "patron_category", "age_band"}
            # the same cell at a known location is a new row; the old row's counts stay where they were
            deltas = Deltas()
            deltas.circulation.append(("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "GEN", "PT", "25-44",
                                       5, 1, "0"))
            # a batch prepared before the upgrade (facts without a location) lands under "?"
            old = Deltas()
            old.circulation.append(("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "PT", "25-44", 1, 0,
                                    "0"))
            recovered = Deltas.from_blob(old.to_blob())
            with store.engine.begin() as conn:
                apply_deltas(conn, store, deltas)
                apply_deltas(conn, store, recovered)
            rows = _warehouse_rows(store)
            assert ("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "GEN", "PT", "25-44", 5, 1, "0.00") in rows
            assert ("old_issues", "loan", "2024-03-01", "MAIN", "BK", "FIC", "?", "PT", "25-44", 8, 2, "0.00") in rows
            assert len(rows) == len(_V7_ROWS) + 1


def test_an_old_ledger_blob_gets_location_unknown():
    blob = pack_json({"circulation": [list(_V7_ROWS[0])], "cells": [], "patrons_removed": [], "counts": {}})
    assert unpack_json(blob)["circulation"][0][6] == "PT"
    assert Deltas.from_blob(blob).circulation == [(*_V7_ROWS[0][:6], "?", *_V7_ROWS[0][6:])]


# ----------------------------------------------------------------------------- bad filters
def test_location_is_answered_and_an_unknown_location_is_refused_in_one_line(small_ils_sqlite_copy, tmp_path):
    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        for value, refused in (("GEN", False), ("CHILD", False), ("NOPE", True), ("GEN--", True)):
            request = parse_stats_request(by="location", where=[f"location={value}"], requester="circ-desk-7")
            check_answerable(request)
            if not refused:
                check_where_values(engine, shape, store, request)
                continue
            with pytest.raises(InputError, match="^--where: location=") as info:
                check_where_values(engine, shape, store, request)
            assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["GEN' OR '1'='1", "GEN;--", "GEN\" OR 1=1", "CHILD) UNION SELECT 1", "ＧEN"])
def test_injection_in_a_location_is_refused_before_any_database(value):
    with pytest.raises(InputError, match="^--where: location: ") as info:
        parse_stats_request(by="location", where=[f"location={value}"], requester="circ-desk-7")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])   # MariaDB: one ALTER TABLE, atomic by itself
def test_a_migration_8_that_fails_part_way_leaves_the_table_as_it_was(backend, tmp_path):
    from patronguard.store.migrations import _v8_circulation_location

    with fresh_database(backend, tmp_path) as url:
        _store_at_migration_7_with_rows(url)
        engine = sa.create_engine(url)
        try:
            with pytest.raises(RuntimeError), engine.begin() as conn:
                _v8_circulation_location(conn)
                raise RuntimeError("killed before the migration was recorded")
            inspector = sa.inspect(engine)
            assert "stats_circulation_v8" not in inspector.get_table_names()
            assert [c["name"] for c in inspector.get_columns("stats_circulation")] == list(_V7_COLUMNS)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT SUM(events) FROM stats_circulation")).scalar() == \
                    sum(r[8] for r in _V7_ROWS)
        finally:
            engine.dispose()
