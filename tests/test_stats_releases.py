"""Totals released earlier for the same table are kept: a later release publishes the same figures, protects
its hidden cells against them too, and refuses (one line) rather than publish a different total next to one
already out."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from patronguard.errors import InputError
from patronguard.stats import service
from patronguard.stats.audit import protection_intervals
from patronguard.stats.releases import earlier_releases, table_identity
from patronguard.stats.request import parse_stats_request
from patronguard.stats.rules import ProtectionRule


def _request(**changes):
    raw = {"by": "quarter,branch", "measures": "checkouts", "requester": "circ-desk-7",
           "from": "2024-01-01", "to": "2025-12-31"} | changes
    return parse_stats_request(**raw)


def _release(request, ils, store, k=None):
    decided = service.decide_stats(request, None)
    controlled = service.count_and_suppress(request, k or decided.k, ils_url=ils, store_url=store)
    service.record_stats(store, request, decided, controlled)
    return controlled.results["checkouts"]


def test_a_later_release_keeps_what_the_table_published_and_protects_against_it(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    first = _release(_request(), ils, store)
    published = {key: first.table.value(key) for key in first.table.margin_keys() if key not in first.suppressed}
    assert published
    # a stricter k hides more cells now; every total published the first time is published again, unchanged
    second = _release(_request(min_count=25), ils, store)
    for key, value in published.items():
        assert key not in second.suppressed and second.shown(key) == value
    # and no hidden cell can be worked out from everything ever published for this table
    from patronguard.store import opened_store

    with opened_store(store) as opened:
        everything = earlier_releases(opened, table_identity(_request()))["checkouts"]
    hidden = set(second.suppressed) - set(everything)
    intervals = protection_intervals(second.table, hidden, {k: v for k, v in everything.items()
                                                            if k in second.table.margin_keys()})
    assert all(ProtectionRule().is_protected(lo, hi) for lo, hi in intervals.values())
    # the same question is the same table whoever asks and whatever k; another period is another table
    assert table_identity(_request(min_count=25)) == table_identity(_request(requester="other-desk"))
    assert table_identity(_request(to="2025-06-30")) != table_identity(_request())


def test_a_changed_total_behind_an_earlier_release_is_refused(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    _release(_request(), ils, store)
    engine = sa.create_engine(ils)
    with engine.begin() as conn:      # the data behind the released period changes (a loan back-dated into it)
        conn.execute(sa.text("UPDATE old_issues SET issuedate = :d WHERE issue_id = "
                             "(SELECT min(issue_id) FROM old_issues WHERE issuedate >= :after)"),
                     {"d": dt.datetime(2025, 3, 3, 10, 0), "after": dt.datetime(2026, 1, 1)})
    engine.dispose()
    with pytest.raises(InputError) as info:
        _release(_request(), ils, store)
    assert "\n" not in str(info.value)
