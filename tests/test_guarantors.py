"""Guarantors of current patrons are kept on every Koha line: from borrower_relationships, or from
borrowers.guarantorid where a database predates that table (Westchester §3's financially responsible party)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from conftest import ROOT
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.run import run_retention

AS_OF = dt.date(2026, 6, 30)
POLICY = str(ROOT / "policy/westchester.yaml")
LONG_EXPIRED = AS_OF - dt.timedelta(days=3000)


def _pairs(conn) -> list[tuple[int, int]]:
    return [tuple(r) for r in conn.execute(sa.text(
        "SELECT r.guarantor_id, r.guarantee_id FROM borrower_relationships r "
        "WHERE r.guarantor_id IS NOT NULL ORDER BY r.guarantee_id")).all()]


@pytest.fixture
def library(tmp_path):
    url = f"sqlite:///{tmp_path / 'ils.db'}"
    init_ils(url, LibrarySpec(patrons=200, loans=1200, years=2, seed=17, until=AS_OF))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        (current_guarantor, current_juvenile), (gone_guarantor, gone_juvenile) = _pairs(conn)[:2]
        for who, expiry in ((current_guarantor, LONG_EXPIRED), (gone_guarantor, LONG_EXPIRED),
                            (current_juvenile, AS_OF + dt.timedelta(days=365)), (gone_juvenile, LONG_EXPIRED)):
            conn.execute(sa.text("UPDATE borrowers SET dateexpiry = :d WHERE borrowernumber = :b"),
                         {"d": expiry, "b": who})
        # nothing else may keep the two guarantors: no loan out, nothing owed, no opt-in
        for who in (current_guarantor, gone_guarantor):
            conn.execute(sa.text("DELETE FROM issues WHERE borrowernumber = :b"), {"b": who})
            conn.execute(sa.text("UPDATE accountlines SET amountoutstanding = 0 WHERE borrowernumber = :b"), {"b": who})
            conn.execute(sa.text("UPDATE borrowers SET privacy = 1 WHERE borrowernumber = :b"), {"b": who})
    engine.dispose()
    return url, current_guarantor, gone_guarantor, gone_juvenile


def _exists(url: str, borrowernumber: int) -> bool:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT COUNT(*) FROM borrowers WHERE borrowernumber = :b"),
                             {"b": borrowernumber}).scalar()
    engine.dispose()
    return bool(found)


def test_guarantor_of_a_current_patron_is_kept_from_borrower_relationships(library, tmp_path):
    url, current_guarantor, gone_guarantor, _ = library
    run = run_retention(url, POLICY, store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    assert run.verification.ok
    assert _exists(url, current_guarantor), "the guarantor of a current juvenile is kept"
    assert not _exists(url, gone_guarantor), "the guarantor of an expired juvenile goes with them"


def test_guarantor_of_a_current_patron_is_kept_from_borrowers_guarantorid(library, tmp_path):
    url, current_guarantor, gone_guarantor, gone_juvenile = library
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the shape of a Koha that predates borrower_relationships
        conn.exec_driver_sql("ALTER TABLE borrowers ADD COLUMN guarantorid INTEGER")
        conn.exec_driver_sql("UPDATE borrowers SET guarantorid = (SELECT MIN(r.guarantor_id) FROM borrower_relationships r "
                             "WHERE r.guarantee_id = borrowers.borrowernumber)")
        conn.exec_driver_sql("DROP TABLE borrower_relationships")
    engine.dispose()
    run = run_retention(url, POLICY, store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    assert run.verification.ok
    assert any("borrowers.guarantorid" in choice for choice in run.plan.choices)
    assert _exists(url, current_guarantor), "the guarantor of a current juvenile is kept"
    assert not _exists(url, gone_guarantor)
    assert not _exists(url, gone_juvenile)
