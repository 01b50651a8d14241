"""Periods of a statistics table: closed days only, and one question released over nested periods cannot be
differenced into a small count; wide age bands as an answer or as a generalisation step."""
from __future__ import annotations

import datetime as dt

import pytest

from cli_helpers import run_cli
from patronguard.errors import InputError
from patronguard.stats import service
from patronguard.stats.overlap import difference_periods
from patronguard.stats.period import closed_period
from patronguard.stats.request import parse_stats_request

TODAY = dt.date(2026, 12, 1)
K = 10


def ask(**fields):
    return parse_stats_request(requester="circ-desk-7", **fields)


# ---- closed days only ---------------------------------------------------------------------------------------

def test_no_last_day_means_the_end_of_the_last_complete_month():
    assert closed_period(ask(by="branch"), TODAY).to_day == dt.date(2026, 11, 30)
    assert closed_period(ask(by="branch"), dt.date(2026, 3, 31)).to_day == dt.date(2026, 2, 28)
    # asked on any day of a month, the same table
    assert {closed_period(ask(by="branch"), dt.date(2026, 12, d)).to_day for d in (1, 15, 31)} == {dt.date(2026, 11, 30)}


def test_removals_kept_by_year_end_with_the_last_complete_year():
    request = ask(by="year,branch", measures="removed_patrons")
    assert closed_period(request, TODAY).to_day == dt.date(2025, 12, 31)


@pytest.mark.parametrize("last", ["2026-12-01", "2026-12-02", "2027-01-01"])
def test_a_day_not_over_is_refused_in_one_line(last):
    with pytest.raises(InputError) as error:
        closed_period(ask(by="branch", to=last), TODAY, "America/New_York")
    message = str(error.value)
    assert message.startswith(f"--to: {last} is not over yet") and "America/New_York" in message
    assert "\n" not in message


def test_a_first_day_with_no_closed_month_after_it_is_refused():
    with pytest.raises(InputError, match=r"^--from: no month from 2026-11-15 is over yet"):
        closed_period(ask(by="branch", **{"from": "2026-11-15"}), dt.date(2026, 11, 20))


def test_decide_pins_the_period_in_the_policys_time_zone():
    decided = service.decide_stats(ask(by="branch"), None, today=TODAY)
    assert decided.request.to_day == dt.date(2026, 11, 30) and decided.decision.allowed


def test_cli_refuses_today_as_a_last_day(capsys, small_ils_sqlite_copy, tmp_path):
    today = dt.date.today().isoformat()
    code, out, err = run_cli(capsys, "stats", "--by", "branch", "--to", today, "--requester", "circ-desk-7",
                             "--db", f"sqlite:///{small_ils_sqlite_copy}", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "--to:" in err and "not over yet" in err


@pytest.mark.parametrize(("now", "before", "parts"), [
    (("2026-01-01", "2026-06-30"), ("2026-01-01", "2026-05-31"), [("2026-06-01", "2026-06-30")]),
    (("2026-01-01", "2026-05-31"), ("2026-01-01", "2026-06-30"), [("2026-06-01", "2026-06-30")]),
    ((None, "2026-06-30"), ("2026-02-01", "2026-05-31"), [(None, "2026-01-31"), ("2026-06-01", "2026-06-30")]),
])
def test_difference_periods_of_nested_periods(now, before, parts):
    day = lambda text: dt.date.fromisoformat(text) if text else None  # noqa: E731
    got = difference_periods(day(now[0]), day(now[1]), day(before[0]), day(before[1]))
    assert got == [(day(a), day(b)) for a, b in parts]


# ---- nested periods of one question --------------------------------------------------------------------------

def _release(request, ils, store):
    decided = service.decide_stats(request, None, today=TODAY)
    controlled = service.count_and_suppress(decided.request, decided.k, ils_url=ils, store_url=store)
    service.record_stats(store, decided.request, decided, controlled)
    return controlled


def _published(controlled, measure="checkouts"):
    result = controlled.results[measure]
    keys = list(result.table.interior_keys()) + list(result.table.margin_keys())
    return {key: result.table.value(key) for key in keys if key not in result.suppressed}


def _small_differences(first, second, difference, measure="checkouts"):
    """Keys published by both releases whose difference (counted on its own) has 1..k-1 patrons."""
    table = difference.results[measure].table
    both = _published(first, measure).keys() & _published(second, measure).keys()
    return {key for key in both if table.has(key) and table.value(key) > 0 and table.patrons_of(key) < K}


QUESTION = dict(by="branch,patron_category", measures="checkouts,renewals")
MAY, JUNE_1 = {"from": "2026-01-01", "to": "2026-05-31"}, {"from": "2026-01-01", "to": "2026-06-01"}


def test_a_release_for_a_longer_period_hides_what_the_difference_would_show(small_ils_sqlite_copy, tmp_path):
    ils = f"sqlite:///{small_ils_sqlite_copy}"
    # without the check (another store, no earlier release): the two releases give small differences away
    naive_first = service.count_and_suppress(ask(**QUESTION, **MAY), K, ils_url=ils,
                                             store_url=f"sqlite:///{tmp_path / 'a.db'}")
    naive_second = service.count_and_suppress(ask(**QUESTION, **JUNE_1), K, ils_url=ils,
                                              store_url=f"sqlite:///{tmp_path / 'b.db'}")
    one_day = service.count_and_suppress(ask(**QUESTION, **{"from": "2026-06-01", "to": "2026-06-01"}), K,
                                         ils_url=ils, store_url=f"sqlite:///{tmp_path / 'c.db'}")
    assert _small_differences(naive_first, naive_second, one_day)   # the attack works on unchecked releases
    # with the check: the second release hides them, and says why
    store = f"sqlite:///{tmp_path / 'store.db'}"
    first = _release(ask(**QUESTION, **MAY), ils, store)
    second = _release(ask(**QUESTION, **JUNE_1), ils, store)
    assert not _small_differences(first, second, one_day)
    for measure in ("checkouts", "renewals"):
        result = second.results[measure]
        assert result.differencing and result.differencing <= result.primary
        key = next(iter(result.differencing))
        assert "difference would show fewer than 10" in result.reason(key)
        assert second.summary()["measures"][measure]["against_differencing"] == len(result.differencing)
    # the grand total of one day's loans is the difference of the two grand totals: hidden now
    assert (None, None) in second.results["checkouts"].suppressed


def test_a_release_for_a_shorter_period_is_checked_too(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    longer = _release(ask(**QUESTION, **JUNE_1), ils, store)
    shorter = _release(ask(**QUESTION, **MAY), ils, store)
    one_day = service.count_and_suppress(ask(**QUESTION, **{"from": "2026-06-01", "to": "2026-06-01"}), K,
                                         ils_url=ils, store_url=f"sqlite:///{tmp_path / 'c.db'}")
    assert not _small_differences(longer, shorter, one_day)
    assert shorter.results["checkouts"].differencing


def test_the_same_period_again_is_the_same_table_and_other_questions_are_not_checked(small_ils_sqlite_copy,
                                                                                     tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    first = _release(ask(**QUESTION, **MAY), ils, store)
    again = _release(ask(**QUESTION, **MAY), ils, store)
    assert _published(again) == _published(first) and not again.results["checkouts"].differencing
    other = _release(ask(by="branch", measures="checkouts", **JUNE_1), ils, store)  # another question
    assert not other.results["checkouts"].differencing


# ---- wide age bands -------------------------------------------------------------------------------------------

def test_wide_age_bands_add_up_to_the_narrow_ones(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    narrow = service.count_and_suppress(ask(by="age_band,branch", to="2026-06-30"), K, ils_url=ils, store_url=store)
    wide = service.count_and_suppress(ask(by="age_band,branch", to="2026-06-30", wide_age_bands=True), K,
                                      ils_url=ils, store_url=store)
    bands = set(wide.results["checkouts"].table.categories["age_band"])
    assert bands <= {"0-17", "18-64", "65+", "?"} and len(bands) >= 2
    n, w = narrow.results["checkouts"].table, wide.results["checkouts"].table
    assert w.value((None, None)) == n.value((None, None))
    for branch in w.categories["branch"]:
        assert w.value(("18-64", branch)) == sum(n.value((b, branch)) for b in ("18-24", "25-44", "45-64")
                                                 if b in n.categories["age_band"])
    assert len(wide.results["checkouts"].primary) <= len(narrow.results["checkouts"].primary)


def test_generalising_widens_age_bands_first_then_the_period(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    request = ask(by="month,age_band", to="2026-06-30")
    answered, controlled, steps = service.count_generalising(request, K, ils_url=ils, store_url=store)
    assert steps[0] == "age bands narrow → wide (0-17, 18-64, 65+)" and answered.wide_age_bands
    only_period = service.count_generalising(request, K, ils_url=ils, store_url=store, widen=("period",))
    assert only_period[2][0] == "month → quarter" and not only_period[0].wide_age_bands
    with pytest.raises(InputError, match="^--generalise: 'patron' cannot be generalised"):
        service.count_generalising(request, K, ils_url=ils, store_url=store, widen=("patron",))


def test_cli_generalise_age_band(capsys, small_ils_sqlite_copy, tmp_path):
    code, out, err = run_cli(capsys, "stats", "--by", "month,age_band", "--to", "2026-06-30", "--generalise",
                             "age_band", "--requester", "circ-desk-7", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                             "--store", f"sqlite:///{tmp_path / 'store.db'}")
    assert code == 0, err
    assert "generalised: age bands narrow → wide" in err and "month → quarter" not in err
    bands = {line.split(",")[1] for line in out.splitlines()[1:]}
    assert bands <= {"0-17", "18-64", "65+", "?", "*"}


def test_a_hidden_figure_still_pinned_by_the_earlier_release_is_refused():
    from patronguard.stats.overlap import DifferenceBound, check_difference_protected
    from patronguard.stats.suppression import suppress
    from patronguard.stats.table import Cell, CountTable

    cells = {(b, c): Cell(40 + 3 * i + j, 30) for i, b in enumerate("ABC") for j, c in enumerate(("ADULT", "JUV"))}
    table = CountTable(("branch", "patron_category"), cells)
    result = suppress(table, k=K, policy_floor=K, must_hide=[("A", "JUV")])
    assert ("A", "JUV") in result.differencing and ("A", "JUV") in result.suppressed
    lo, hi = result.intervals[("A", "JUV")]
    # an earlier, shorter period published a figure close to the top of the interval: the difference is pinned
    with pytest.raises(InputError, match=r"^--from/--to: checkouts A / JUV was released for 2026-01-01 to "):
        check_difference_protected(result, {("A", "JUV"): DifferenceBound(int(hi) - 1, True, "2026-01-01 to 2026-05-31")},
                                   "checkouts")
    # an earlier figure far below leaves the difference as uncertain as the cell itself
    check_difference_protected(result, {("A", "JUV"): DifferenceBound(0, True, "2026-01-01 to 2026-05-31")}, "checkouts")


def test_the_summary_says_the_age_bands_were_widened(small_ils_sqlite_copy, tmp_path):
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    decided = service.decide_stats(ask(by="quarter,age_band", to="2026-06-30", wide_age_bands=True), None, today=TODAY)
    controlled = service.count_and_suppress(decided.request, decided.k, ils_url=ils, store_url=store)
    release, paths = service.write_release(controlled, decided.request, decided, tmp_path / "out")
    html = (tmp_path / "out" / "summary.html").read_text()
    assert "wide age bands: 0-17, 18-64, 65+" in html and "2026-06-30" in html


def test_distinct_patrons_publish_no_total_and_hide_exactly_the_small_cells(small_ils_sqlite_copy, tmp_path):
    """Distinct patrons do not add up, so no total of them is published: there is nothing to work a hidden one
    out from, and the cells hidden are those whose counts are hidden for having fewer than k patrons."""
    ils, store = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    by = ("month", "branch", "patron_category")
    controlled = service.count_and_suppress(ask(by=",".join(by), measures="checkouts,distinct_patrons",
                                                **{"from": "2026-01-01", "to": "2026-06-30"}),
                                            K, ils_url=ils, store_url=store)
    rows = controlled.rows()
    total = lambda r: "*" in (r[d] for d in by)  # noqa: E731
    assert all(r["distinct_patrons"] == "" for r in rows if total(r))
    interior_primary = {k for k in controlled.results["checkouts"].primary if None not in k}
    assert controlled.hidden_patrons and controlled.hidden_patrons == interior_primary
    shown = [r["distinct_patrons"] for r in rows if not total(r) and r["distinct_patrons"] != "x"]
    assert all(n == 0 or n >= K for n in shown)
