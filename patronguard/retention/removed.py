"""Who a removed patron record was, kept as counts: the warehouse's ``stats_patrons_removed``.

Two kinds of patron record leave the ILS in a retention run, each counted into the batch's deltas (so the
ledger applies them to the warehouse exactly once, with the ILS change):

* ``expired``: a patron the run removes (``patrons.remove_patrons``) — ``removed_patrons`` counts these;
* ``deleted_in_koha``: a copy in Koha's ``deletedborrowers`` of a patron staff deleted in Koha, purged when
  the policy's ``deleted_patrons`` schedule says (``batches.delete_rows``).

Both keep what ``new_registrations`` needs once the row is gone (enrolment month, branch, category, age band
at enrolment), and what ``removed_patrons`` and the PLS's registered users need of an expired patron (expiry
year, age band in that year, enrolment year). Nothing identifying: a key is a cell, its value a count.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .aggregate import UNKNOWN, age_band
from .ledger import Deltas

EXPIRED = "expired"
DELETED_IN_KOHA = "deleted_in_koha"
#: the record class (PII map ``records``) of Koha's copies of deleted patrons
DELETED_PATRON_COPIES = "deleted_patrons"


def count_patron_records(conn: Connection, table: sa.Table, where: sa.ColumnElement, deltas: Deltas,
                         removed_as: str) -> None:
    """Demographics of the patron rows of ``table`` matching ``where``, about to go: expiry year, branch,
    category, age band (in the year the card expires), enrolment year, enrolment month ("YYYY-MM", "?" when
    not enrolled on a known day) and age band at enrolment (the year enrolled minus the year born, as the
    circulation warehouse bands a patron's age on the day of a loan), added to ``deltas.patrons_removed``."""
    t = table
    inner = sa.select(
        sa.func.coalesce(sa.extract("year", t.c.dateexpiry), 0).label("expiry_year"),
        sa.func.coalesce(t.c.branchcode, UNKNOWN).label("branch"),
        sa.func.coalesce(t.c.categorycode, UNKNOWN).label("patron_category"),
        age_band(t.c.dateexpiry, t.c.dateofbirth).label("age_band"),
        sa.func.coalesce(sa.extract("year", t.c.dateenrolled), 0).label("enrolled_year"),
        sa.func.coalesce(sa.extract("month", t.c.dateenrolled), 0).label("enrolled_month"),
        age_band(t.c.dateenrolled, t.c.dateofbirth).label("enrolled_age_band"),
    ).where(where).subquery("demo")
    dims = [inner.c[n] for n in ("expiry_year", "branch", "patron_category", "age_band", "enrolled_year",
                                 "enrolled_month", "enrolled_age_band")]
    for row in conn.execute(sa.select(*dims, sa.func.count()).group_by(*dims)):
        year, month = int(row[4]), int(row[5])
        enrolled = f"{year:04d}-{month:02d}" if year and month else UNKNOWN
        k = (int(row[0]), row[1], row[2], row[3], year, enrolled, row[6], removed_as)
        deltas.patrons_removed[k] = deltas.patrons_removed.get(k, 0) + int(row[7])


def is_patron_copy(table_map, table: sa.Table) -> bool:
    """A table of copies of deleted patrons (Koha's ``deletedborrowers``) with what a registration needs."""
    return (table_map is not None and table_map.records == DELETED_PATRON_COPIES
            and {"dateenrolled", "branchcode", "categorycode", "dateexpiry", "dateofbirth"} <= set(table.c.keys()))
