"""Statistics over the warehouse and the live ILS: every loan counted once, before and after retention,
and while a killed run is half done."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from patronguard.ils.piimap import builtin_pii_map
from patronguard.retention.engine import checked_hash_key
from patronguard.retention.report import opened_ils
from patronguard.stats.query import count_statistics
from patronguard.stats.request import parse_stats_request
from patronguard.store import opened_store

POLICY = str(ROOT / "policy/westchester.yaml")
AS_OF = SMALL_SPEC["until"].isoformat()
MEASURES = "checkouts,renewals,returns,holds_placed,holds_filled"
FINEST = "day,branch,itemtype,collection,patron_category,age_band"


def ever_made(ils_url: str) -> dict[str, int]:
    """What the ILS's own rows say happened, whoever is still linked to them."""
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
        out = {
            "checkouts": one("SELECT COUNT(*) FROM issues") + one("SELECT COUNT(*) FROM old_issues"),
            "renewals": (one("SELECT SUM(renewals_count) FROM issues")
                         + one("SELECT SUM(renewals_count) FROM old_issues")),
            "returns": one("SELECT COUNT(*) FROM statistics WHERE type = 'return'"),
            "holds_placed": one("SELECT COUNT(*) FROM reserves") + one("SELECT COUNT(*) FROM old_reserves"),
            "holds_filled": one("SELECT COUNT(*) FROM old_reserves WHERE found = 'F'"),
        }
    engine.dispose()
    return out


def counts(ils_url: str, store_url: str, by: str, measures: str = MEASURES, **extra):
    request = parse_stats_request(by=by, measures=measures, requester="circ-desk-7", **extra)
    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        return count_statistics(engine, shape, builtin_pii_map("koha"), store, request, checked_hash_key(store))


def totals(ils_url: str, store_url: str) -> dict[str, int]:
    found = counts(ils_url, store_url, "year")
    return {m: found.total(m) for m in found.values}


def retention(ils_url: str, store_url: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PATRONGUARD_FAULT"}
    if fault:
        env["PATRONGUARD_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "patronguard.cli", "retention", "run", "--db", ils_url,
                           "--store", store_url, "--policy", POLICY, "--as-of", AS_OF, "--batch-size", "200",
                           "--json"], env=env, capture_output=True, text=True, timeout=600)


def linked_old_issues(ils_url: str) -> int:
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM old_issues WHERE borrowernumber IS NOT NULL "
                                 "AND borrowernumber <> 3")).scalar()
    engine.dispose()
    return int(n)


def test_totals_equal_what_was_ever_done_before_during_and_after_retention(small_ils_sqlite_copy, tmp_path):
    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    expected = ever_made(ils_url)
    assert expected["checkouts"] == SMALL_SPEC["loans"]
    assert totals(ils_url, store_url) == expected
    before_cells = counts(ils_url, store_url, FINEST).values
    before_patrons = counts(ils_url, store_url, "month,branch,patron_category,age_band", "distinct_patrons").values
    linked_before = linked_old_issues(ils_url)

    # killed after the ILS committed a batch and before the ledger completed it: rows stripped, not yet counted
    killed = retention(ils_url, store_url, "after-ils-commit:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert linked_old_issues(ils_url) < linked_before          # the run did strip loans before it died
    assert totals(ils_url, store_url) == expected

    # killed after preparing a batch (its ILS transaction rolled back), then resumed to the end
    killed = retention(ils_url, store_url, "after-prepare:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert totals(ils_url, store_url) == expected
    done = retention(ils_url, store_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert linked_old_issues(ils_url) < linked_before / 2      # most of the history is in the warehouse now

    assert totals(ils_url, store_url) == expected
    after = counts(ils_url, store_url, FINEST)
    for measure in MEASURES.split(","):   # every cell, not only the totals: same day, branch, patron group …
        assert {k: v for k, v in after.values[measure].items() if v} == \
               {k: v for k, v in before_cells[measure].items() if v}, measure
    # distinct patrons at the sketches' grain: warehouse and live hashed alike, each patron once
    assert counts(ils_url, store_url, "month,branch,patron_category,age_band", "distinct_patrons").values == \
        before_patrons

    # a second run finds nothing new to do and changes nothing
    again = retention(ils_url, store_url)
    assert again.returncode == 0, again.stderr[-3000:]
    assert totals(ils_url, store_url) == expected


def test_filters_and_periods_split_the_totals_exactly(small_ils_sqlite_copy, tmp_path):
    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    assert retention(ils_url, store_url).returncode == 0
    by_branch = counts(ils_url, store_url, "branch", "checkouts").values["checkouts"]
    for (branch,), n in by_branch.items():
        only = counts(ils_url, store_url, "month", "checkouts", where=[f"branch={branch}"]).values["checkouts"]
        assert sum(only.values()) == n
    for period, pattern in (("week", r"^\d{4}-W\d{2}$"), ("quarter", r"^\d{4}-Q[1-4]$"), ("year", r"^\d{4}$")):
        found = counts(ils_url, store_url, period, "checkouts").values["checkouts"]
        assert sum(found.values()) == SMALL_SPEC["loans"]
        assert all(__import__("re").match(pattern, key[0]) for key in found), period
    # a date range takes exactly the loans issued in it
    half = counts(ils_url, store_url, "year", "checkouts", **{"from": "2025-01-01", "to": "2025-12-31"})
    full = counts(ils_url, store_url, "year", "checkouts").values["checkouts"]
    assert half.values["checkouts"] == {("2025",): full[("2025",)]}


@pytest.mark.parametrize("small_ils_url", ["mariadb", "postgresql"], indirect=True)  # SQLite is the reference
def test_the_query_answers_alike_on_the_servers(small_ils_url, small_ils_sqlite_master, tmp_path):
    """The same library on MariaDB / PostgreSQL gives the same cells as on SQLite (periods labelled alike)."""
    ils_url = small_ils_url
    expected = ever_made(ils_url)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    assert totals(ils_url, store_url) == expected
    here = counts(ils_url, store_url, "week,branch,patron_category", "checkouts,holds_filled")
    reference = counts(f"sqlite:///{small_ils_sqlite_master}", f"sqlite:///{tmp_path / 'ref.db'}",
                       "week,branch,patron_category", "checkouts,holds_filled")
    assert here.values == reference.values
    for by in ("quarter,age_band", "month,branch,patron_category,age_band"):   # a lower bound; exact
        found = counts(ils_url, store_url, by, "distinct_patrons")
        assert found.values == counts(f"sqlite:///{small_ils_sqlite_master}", f"sqlite:///{tmp_path / 'ref.db'}",
                                      by, "distinct_patrons").values, by
