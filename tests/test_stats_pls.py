"""The IMLS Public Libraries Survey figures: right against the ILS's own rows, and the same after the
nightly run has anonymised the history (on the demo library: ``patronguard demo``'s defaults)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from conftest import ROOT
from patronguard.errors import InputError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.ils.piimap import builtin_pii_map
from patronguard.retention.engine import checked_hash_key
from patronguard.retention.report import opened_ils
from patronguard.retention.run import run_retention
from patronguard.stats.pls import ChildrensMaterials, load_childrens_materials, pls_figures
from patronguard.store import opened_store

UNTIL = dt.date(2026, 6, 30)
DEMO = LibrarySpec(until=UNTIL)          # the demo's library: 2,000 patrons, 50,000 loans over 5 years
YEARS = range(UNTIL.year - DEMO.years, UNTIL.year + 1)
KIDS = ChildrensMaterials(collections=["JFIC", "JNF"], item_types=["AB"])


def figures(ils_url: str, store_url: str) -> dict[int, dict]:
    with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        key = checked_hash_key(store)
        return {year: dataclasses.asdict(pls_figures(engine, shape, builtin_pii_map("koha"), store, year, key, KIDS))
                for year in YEARS}


def by_hand(ils_url: str, year: int) -> dict[str, int]:
    """The figures counted straight from the ILS's rows, before anything was anonymised."""
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        def one(sql: str, **params) -> int:
            return int(conn.execute(sa.text(sql), params).scalar() or 0)
        span = {"first": f"{year}-01-01", "next": f"{year + 1}-01-01"}
        circulation = one("SELECT COUNT(*) FROM statistics WHERE type IN ('issue', 'renew') "
                          "AND datetime >= :first AND datetime < :next", **span)
        children = one("SELECT COUNT(*) FROM statistics WHERE type IN ('issue', 'renew') AND datetime >= :first "
                       "AND datetime < :next AND (ccode IN ('JFIC', 'JNF') OR itemtype = 'AB')", **span)
        anonymous = conn.execute(sa.text("SELECT value FROM systempreferences WHERE variable = 'AnonymousPatron'")
                                 ).scalar()
        users = one("SELECT COUNT(*) FROM borrowers WHERE CAST(strftime('%Y', dateenrolled) AS INTEGER) <= :y "
                    "AND (dateexpiry IS NULL OR CAST(strftime('%Y', dateexpiry) AS INTEGER) >= :y - 2) "
                    "AND borrowernumber <> :anon", y=year, anon=int(anonymous or 0))
    engine.dispose()
    return {"physical_circulation_553": circulation, "childrens_circulation_551": children,
            "registered_users": users}


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    ils_url = f"sqlite:///{folder / 'ils.db'}"
    init_ils(ils_url, DEMO)
    return ils_url, f"sqlite:///{folder / 'patronguard.db'}"


def test_pls_figures_are_right_and_the_same_after_retention(demo_library):
    ils_url, store_url = demo_library
    before = figures(ils_url, store_url)
    for year in YEARS:
        expected = by_hand(ils_url, year)
        assert {k: before[year][k] for k in expected} == expected, year
        assert before[year]["total_circulation_550"] == before[year]["physical_circulation_553"]
    assert sum(f["physical_circulation_553"] for f in before.values()) > 0
    assert any(f["childrens_circulation_551"] for f in before.values())

    run = run_retention(ils_url, str(ROOT / "policy/westchester.yaml"), store_url=store_url, as_of=UNTIL)
    assert sum(t.aggregated for t in run.tables) > 0 and sum(t.deleted for t in run.tables) > 0
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:      # the run did take patrons and links away
        assert conn.execute(sa.text("SELECT COUNT(*) FROM statistics WHERE borrowernumber IS NULL "
                                    "OR borrowernumber = 3")).scalar() > 0
    engine.dispose()

    assert figures(ils_url, store_url) == before


def test_childrens_materials_mapping_is_read_strictly(tmp_path):
    good = tmp_path / "kids.yaml"
    good.write_text("collections: [JFIC, JPIC]\nitem_types: [JBOOK]\n")
    assert load_childrens_materials(good) == ChildrensMaterials(collections=["JFIC", "JPIC"], item_types=["JBOOK"])
    assert load_childrens_materials(None).collections == ["JFIC", "JNF"]
    for text, field in (("collection: [JFIC]\n", "collection"), ("collections: JFIC\n", "collections"),
                        ("collections: [\"JF'IC\"]\n", "JF'IC")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(InputError) as error:
            load_childrens_materials(bad)
        assert str(bad) in str(error.value) and field in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("small_ils_url", ["mariadb", "postgresql"], indirect=True)  # SQLite is the reference
def test_pls_figures_alike_on_the_servers(small_ils_url, small_ils_sqlite_master, tmp_path):
    """The same library on MariaDB / PostgreSQL gives the SQLite figures (years and dates compared alike)."""

    def of(ils_url: str, store: str) -> list[dict]:
        with opened_ils(ils_url, scan_unmapped=False) as (engine, shape), opened_store(store) as opened:
            key = checked_hash_key(opened)
            return [dataclasses.asdict(pls_figures(engine, shape, builtin_pii_map("koha"), opened, year, key, KIDS))
                    for year in range(2022, 2027)]

    here = of(small_ils_url, f"sqlite:///{tmp_path / 'store.db'}")
    assert here == of(f"sqlite:///{small_ils_sqlite_master}", f"sqlite:///{tmp_path / 'ref.db'}")
    assert sum(f["physical_circulation_553"] for f in here) > 0
