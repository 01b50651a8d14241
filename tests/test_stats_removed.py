"""removed_patrons: the patrons the retention run removed, by expiry year, branch, category and age band, from
the warehouse — every removed patron counted once; other breakdowns and partial years refused in one line."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from patronguard.errors import InputError
from patronguard.stats.query import check_answerable
from patronguard.stats.request import parse_stats_request
from test_stats_query import counts, retention


def _patrons(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM borrowers")).scalar()
    engine.dispose()
    return int(n)


def test_removed_patrons_count_everyone_the_run_removed_once(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    before = _patrons(ils)
    assert retention(ils, store).returncode == 0
    removed = before - _patrons(ils)
    assert removed > 0
    by_year = counts(ils, store, "year,branch", measures="removed_patrons,checkouts")
    assert by_year.total("removed_patrons") == removed
    assert by_year.patrons["removed_patrons"] == by_year.values["removed_patrons"]   # one patron per removal
    one_year = next(iter(by_year.values["removed_patrons"]))[0]
    filtered = counts(ils, store, "branch", measures="removed_patrons", where=[f"year={one_year}"])
    assert filtered.total("removed_patrons") == sum(n for (y, _b), n in by_year.values["removed_patrons"].items()
                                                    if y == one_year)


@pytest.mark.parametrize("extra, message", [
    ({"by": "month,branch"}, "not by month"),
    ({"by": "year,collection"}, "not by collection"),
    ({"by": "year", "from": "2025-03-01"}, "whole years"),
])
def test_what_the_warehouse_does_not_keep_is_refused(extra, message):
    request = parse_stats_request(**({"by": "year", "measures": "removed_patrons", "requester": "c"} | extra))
    with pytest.raises(InputError, match=message) as info:
        check_answerable(request)
    assert "\n" not in str(info.value)
