"""Disclosure control of anonymised statistics: primary and complementary suppression, checked by LP.

Every pattern is checked the way an attacker would: by linear programming over
the released interior cells and every released total (earlier releases
included); a suppressed count recoverable exactly or to within ±1 fails.
"""
from __future__ import annotations

import itertools
import random
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patronguard.errors import InputError
from patronguard.stats import (
    SUPPRESSED_MARK, TOTAL, Cell, CountTable, ProtectionRule, generalise, minimum_patrons, protection_intervals,
    refuse_disclosive_request, small_cells, suppress,
)

RULE = ProtectionRule()


def assert_protected(result, released_before=None):
    """Attack the released table with LP; every suppressed count must keep ≥ 4 possible whole values."""
    released = result.released_margins()
    released.update(released_before or {})
    intervals = protection_intervals(result.table, result.suppressed, released)
    assert set(intervals) == set(result.suppressed)
    for key, (lo, hi) in intervals.items():
        assert lo <= result.table.value(key) <= hi + 1e-6
        assert RULE.is_protected(lo, hi), f"{key} recoverable: [{lo}, {hi}]"
    return intervals


def table_from_loans(dimensions, loans, categories=None):
    """Count loans per cell and distinct patrons per cell, as the warehouse query would."""
    values, patrons = {}, {}
    for *key, patron in loans:
        key = tuple(key)
        values[key] = values.get(key, 0) + 1
        patrons.setdefault(key, set()).add(patron)
    cells = {k: Cell(v, len(patrons[k])) for k, v in values.items()}
    return CountTable(dimensions, cells, categories=categories)


# --- a small hand-built library whose right pattern is known -------------------------------------------------
# Loans by branch × patron category; patrons = loans except where stated. Only Central/juvenile (2 loans,
# 2 patrons) is below k = 10. Every 2×2 rectangle through it hides 3 more cells; the one hiding the least is
# Central/adult + East/juvenile + East/adult (20 + 15 + 18 = 53, against 80 and 85 for the others).
LIBRARY = {
    ("Central", "juvenile"): 2, ("Central", "adult"): 20, ("Central", "senior"): 30,
    ("East", "juvenile"): 15, ("East", "adult"): 18, ("East", "senior"): 40,
    ("West", "juvenile"): 25, ("West", "adult"): 35, ("West", "senior"): 50,
}
CATEGORIES = {"branch": ("Central", "East", "West"), "patron_category": ("juvenile", "adult", "senior")}


def library(overrides=None) -> CountTable:
    counts = {**LIBRARY, **(overrides or {})}
    return CountTable(("branch", "patron_category"), {k: Cell(v, v) for k, v in counts.items()},
                      categories=CATEGORIES)


def test_hand_built_library_gets_the_known_pattern():
    result = suppress(library())
    assert result.primary == {("Central", "juvenile")}
    assert result.secondary == {("Central", "adult"), ("East", "juvenile"), ("East", "adult")}
    # every total stays released, with the true numbers
    assert result.released_margins()[(TOTAL, TOTAL)] == sum(LIBRARY.values())
    assert result.released_margins()[("Central", TOTAL)] == 52
    assert result.shown(("Central", "juvenile")) == SUPPRESSED_MARK
    assert result.shown(("West", "senior")) == 50
    intervals = assert_protected(result)
    # worked by hand: t = Central/juvenile, the rest follow from the row and column totals
    assert intervals[("Central", "juvenile")] == pytest.approx((0, 17))
    assert intervals[("East", "adult")] == pytest.approx((16, 33))
    assert result.reason(("Central", "juvenile")) == "fewer than 10 distinct patrons"
    rows = result.rows()
    assert len(rows) == 16 and rows[0] == {"branch": "Central", "patron_category": "juvenile", "count": "x",
                                           "status": "primary", "reason": "fewer than 10 distinct patrons"}
    assert rows[-1] == {"branch": "*", "patron_category": "*", "count": 235, "status": "released", "reason": ""}
    assert sum(row["count"] == SUPPRESSED_MARK for row in rows) == 4


def test_hiding_only_the_small_cell_is_caught_by_the_audit():
    table = library()
    exposed = protection_intervals(table, {("Central", "juvenile")})
    assert exposed[("Central", "juvenile")] == pytest.approx((2, 2))  # row total minus the other two
    # a lone 2×2 rectangle: with a partner of 1 four values remain (0..3), with two 1s only "1 ± 1"
    thin = library({("Central", "adult"): 1})
    rectangle = {("Central", "juvenile"), ("Central", "adult"), ("East", "juvenile"), ("East", "adult")}
    lo, hi = protection_intervals(thin, rectangle)[("Central", "juvenile")]
    assert (lo, hi) == pytest.approx((0, 3)) and RULE.is_protected(lo, hi)
    thinner = library({("Central", "adult"): 1, ("Central", "juvenile"): 1})
    lo, hi = protection_intervals(thinner, rectangle)[("Central", "juvenile")]
    assert (lo, hi) == pytest.approx((0, 2)) and not RULE.is_protected(lo, hi)  # "1 ± 1"
    assert_protected(suppress(thinner))


def test_suppression_honours_a_cell_released_earlier():
    table = library()
    published = {("East", "adult"): 18}  # last quarter's release showed it
    naive = suppress(table)
    attacked = protection_intervals(table, naive.suppressed, {**naive.released_margins(), **published})
    assert attacked[("Central", "juvenile")] == pytest.approx((2, 2))  # the usual pattern would now give it away
    result = suppress(table, released_before=published)
    assert ("East", "adult") not in result.suppressed
    assert result.suppressed == {("Central", "juvenile"), ("Central", "adult"), ("West", "juvenile"),
                                 ("West", "adult")}
    assert_protected(result, published)


def test_small_branch_total_is_suppressed_and_a_published_one_is_kept():
    # Central's loans come from 9 patrons in all: its row total is as sensitive as its cells
    patrons = {("Central", "juvenile"): 2, ("Central", "adult"): 6, ("Central", "senior"): 8}
    cells = {k: Cell(v, patrons.get(k, v)) for k, v in LIBRARY.items()}
    table = CountTable(("branch", "patron_category"), cells, categories=CATEGORIES,
                       margin_patrons={("Central", TOTAL): 9})
    fresh = suppress(table)
    assert fresh.primary == set(patrons) | {("Central", TOTAL)}
    assert fresh.secondary  # another row total (or more) goes with it, else the grand total gives it away
    assert_protected(fresh)
    # the same total published last year stays as published; the cells under it stay protected
    published = {("Central", TOTAL): 52}
    result = suppress(table, released_before=published)
    assert result.published_sensitive == {("Central", TOTAL)} and ("Central", TOTAL) not in result.suppressed
    assert result.released_margins()[("Central", TOTAL)] == 52
    assert_protected(result, published)
    with pytest.raises(InputError, match="released before with another count") as caught:
        suppress(table, released_before={("Central", TOTAL): 51})
    assert "\n" not in str(caught.value)


def test_a_total_the_earlier_release_already_gives_away_counts_as_published():
    # one branch: the all-branches total for adults *is* the adult cell published last time
    table = CountTable(("branch", "patron_category"),
                       {("Central", "juvenile"): Cell(6, 4), ("Central", "adult"): Cell(6, 6)},
                       categories={"branch": ("Central",), "patron_category": ("juvenile", "adult", "senior")})
    published = {("Central", "adult"): 6}
    result = suppress(table, released_before=published)
    assert (TOTAL, "adult") in result.published_sensitive and (TOTAL, "adult") not in result.suppressed
    assert ("Central", "juvenile") in result.primary
    assert_protected(result, published)


def test_k_below_the_policy_floor_is_refused():
    with pytest.raises(InputError) as caught:
        suppress(library(), k=5)
    assert "policy floor of 10" in str(caught.value) and "\n" not in str(caught.value)
    assert minimum_patrons(None) == 10 and minimum_patrons(25) == 25
    with pytest.raises(InputError):
        minimum_patrons(12, policy_floor=15)


def test_raising_k_suppresses_more():
    at_floor, raised = suppress(library()), suppress(library(), k=30)
    assert at_floor.primary < raised.primary
    assert {key for key in raised.primary if TOTAL not in key} == {key for key, v in LIBRARY.items() if v < 30}
    # the juvenile column total is known to have at least 25 patrons (its largest cell), not 30: hidden too
    assert raised.primary - set(LIBRARY) == {(TOTAL, "juvenile")}
    assert len(raised.suppressed) > len(at_floor.suppressed)
    assert_protected(raised)


def test_zero_cells_are_not_sensitive_and_are_released_as_zero():
    table = library({("West", "juvenile"): 0})
    result = suppress(table)
    assert ("West", "juvenile") not in result.primary
    assert ("West", "juvenile") not in result.suppressed
    assert result.shown(("West", "juvenile")) == 0
    assert result.primary == {("Central", "juvenile")}
    assert_protected(result)


def test_a_dimension_with_one_category_does_not_give_the_cell_away():
    # with one branch, the total over branches is the cell itself: it must be hidden with it
    table = CountTable(("branch", "patron_category"),
                       {("Central", "juvenile"): Cell(3, 3), ("Central", "adult"): Cell(40, 30),
                        ("Central", "senior"): Cell(25, 20)})
    result = suppress(table)
    assert (TOTAL, "juvenile") in result.suppressed
    assert_protected(result)


def three_d_library(seed: int) -> CountTable:
    rng = random.Random(seed)
    months = [f"2026-{m:02d}" for m in range(1, 7)]
    branches, categories = ["Central", "East", "West", "North"], ["adult", "juvenile", "senior"]
    loans = []
    for month, branch, category in itertools.product(months, branches, categories):
        scale = rng.choice([1, 4, 20])
        for _ in range(rng.randint(0, 2 * scale)):
            loans.append((month, branch, category, f"{branch}-{category}-{rng.randint(1, scale * 2)}"))
    return table_from_loans(("month", "branch", "patron_category"), loans)


def test_three_dimensional_table_is_protected_against_every_total():
    table = three_d_library(3)
    result = suppress(table, lp_audit="all")
    assert result.primary and result.secondary
    assert result.lp_audited == result.suppressed
    assert_protected(result)


def test_same_input_same_pattern():
    table = three_d_library(5)
    shuffled = list(table.cells.items())
    random.Random(1).shuffle(shuffled)
    again = CountTable(table.dimensions, dict(shuffled), categories=table.categories)
    assert suppress(table).suppressed == suppress(again).suppressed == suppress(table).suppressed


def test_generalising_months_to_quarters_leaves_no_small_cell():
    loans = []
    for month in range(1, 7):
        for branch in ("Central", "East"):
            for n in range(6):  # six loans by four patrons each month (new ones every month): below k
                loans.append((f"2026-{month:02d}", branch, f"{branch}-{month}-{n % 4}"))
    monthly = table_from_loans(("month", "branch"), loans)
    assert small_cells(monthly, 10) == sorted(monthly.cells, key=monthly.index_of)  # every month is small
    quarterly_loans = [(f"2026-Q{(int(m[5:]) - 1) // 3 + 1}", b, p) for m, b, p in loans]
    recount = {k: c.patrons for k, c in table_from_loans(("quarter", "branch"), quarterly_loans).cells.items()}
    quarterly = generalise(monthly, "month", patrons=recount)
    assert quarterly.dimensions == ("quarter", "branch")
    assert quarterly.categories["quarter"] == ("2026-Q1", "2026-Q2")
    assert quarterly.value(("2026-Q1", "Central")) == 18 and quarterly.patrons_of(("2026-Q1", "Central")) == 12
    assert small_cells(quarterly, 10) == []
    assert suppress(quarterly).suppressed == frozenset()
    # without a re-count the merged cell only knows its largest part: still small, so still suppressed
    assert small_cells(generalise(monthly, "month"), 10)


def test_generalising_age_bands_narrow_to_wide():
    cells = {("Central", band): Cell(5, 5) for band in ("0-12", "13-17", "18-24", "25-44")}
    table = CountTable(("branch", "age_band"), cells)
    wide = generalise(table, "age_band", patrons={("Central", "0-17"): 10, ("Central", "18-64"): 10})
    assert wide.categories["age_band"] == ("0-17", "18-64")
    assert small_cells(wide, 10) == []
    with pytest.raises(InputError, match="no generalisation"):
        generalise(table, "branch")


@pytest.mark.parametrize("dimensions, filters, reason", [
    (["month", "borrowernumber"], [], "direct patron identifier"),
    (["branch"], ["Card Number"], "direct patron identifier"),
    (["email"], [], "direct patron identifier"),
    (["biblionumber", "age_band"], [], "title-level"),
    (["title", "branch"], ["patron_category"], "title-level"),
])
def test_identifiers_and_title_level_small_groups_are_refused(dimensions, filters, reason):
    with pytest.raises(InputError, match=reason) as caught:
        refuse_disclosive_request(dimensions, filters)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("refused:")


def test_ordinary_and_title_level_over_all_patrons_are_allowed():
    refuse_disclosive_request(["month", "branch", "patron_category", "age_band"])
    refuse_disclosive_request(["biblionumber", "branch"])


def test_full_size_table_suppresses_in_seconds():
    rng = np.random.default_rng(1)
    dims = ("month", "branch", "patron_category", "age_band")
    categories = {"month": [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)],
                  "branch": [f"B{i}" for i in range(10)], "patron_category": [f"C{i}" for i in range(8)],
                  "age_band": [f"A{i}" for i in range(6)]}
    cells = {}
    for key in itertools.product(*(categories[d] for d in dims)):
        value = int(rng.poisson(rng.choice([3, 15, 40])))
        if value:
            cells[key] = Cell(value, max(1, int(value * 0.8)))
    table = CountTable(dims, cells, categories=categories)
    started = time.perf_counter()
    result = suppress(table)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"{elapsed:.1f} s"
    assert {k for k in result.primary if TOTAL not in k} == {k for k, c in cells.items() if c.patrons < 10}
    # every suppressed key carries a certificate wide enough; spot-check a few against the LP audit
    assert all(RULE.is_protected(*result.intervals[k]) for k in result.suppressed)


small_tables = st.integers(2, 3).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.integers(1, 4), min_size=n, max_size=n), st.randoms(use_true_random=False)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=small_tables, k=st.sampled_from([10, 12]), publish_some=st.booleans())
def test_property_no_suppressed_count_is_recoverable(spec, k, publish_some):
    n, sizes, rng = spec
    dims = tuple(f"d{i}" for i in range(n))
    cells = {}
    for key in itertools.product(*(tuple(f"c{j}" for j in range(s)) for s in sizes)):
        value = rng.choice([0, 0, 1, 1, 2, 3, 4, 6, 12, 20, 35])
        if value:
            cells[key] = Cell(value, rng.randint(1, value))
    if not cells:
        return
    table = CountTable(dims, cells)
    published = {}
    if publish_some:
        for key in sorted(table.cells, key=table.index_of)[:: 3]:
            published[key] = table.value(key)
    result = suppress(table, k=k, released_before=published, lp_audit="all")
    assert not (result.suppressed & set(published))
    assert_protected(result, published)
    # what it releases beyond the earlier release because that release gives it away, is given away by it
    given_away = set(result.released_before) - set(published)
    if given_away:
        everything = set(table.interior_keys()) | set(table.margin_keys())
        pinned = protection_intervals(table, everything - set(published), published, of=given_away)
        assert not any(RULE.is_protected(*interval) for interval in pinned.values())
