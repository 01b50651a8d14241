"""Generalising instead of suppressing, when asked: the period is widened (month → quarter → year) and
recounted until no cell falls below k, and the output says so; a filtered period is never widened."""
from __future__ import annotations

from cli_helpers import run_cli
from patronguard.stats import service
from patronguard.stats.request import parse_stats_request


def test_months_too_small_become_quarters_or_years_with_no_cell_below_k(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    request = parse_stats_request(by="month,branch,patron_category", requester="circ-desk-7")
    plain = service.count_and_suppress(request, 10, ils_url=ils, store_url=store)
    assert plain.results["checkouts"].primary                     # monthly cells this small need suppressing
    answered, controlled, steps = service.count_generalising(request, 10, ils_url=ils, store_url=store)
    assert steps and steps[0] == "month → quarter"
    assert answered.by[0] in ("quarter", "year")
    assert not controlled.results["checkouts"].primary or answered.by[0] == "year"
    total = lambda c: c.results["checkouts"].table.value((None, None, None))  # noqa: E731
    assert total(controlled) == total(plain)                      # the same loans, counted once, coarser


def test_a_filtered_period_is_not_widened():
    request = parse_stats_request(by="month,branch", where=["month=2026-03"], requester="circ-desk-7")
    assert service.generalised(request) is None


def test_cli_says_what_it_generalised(capsys, small_ils_sqlite_copy, tmp_path):
    code, out, err = run_cli(capsys, "stats", "--by", "month,branch,patron_category", "--requester", "circ-desk-7",
                             "--generalise", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                             "--store", f"sqlite:///{tmp_path / 'store.db'}")
    assert code == 0, err
    assert "generalised: month → quarter" in err
    assert out.splitlines()[0].startswith(("quarter,", "year,"))
