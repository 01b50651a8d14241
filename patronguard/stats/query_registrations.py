"""``new_registrations``: patrons enrolled (Koha's ``dateenrolled``) in each period, by branch, category, age band.

Every patron who ever registered is in exactly one of three places, and is counted from there:

1. **live** ``borrowers`` (Koha's AnonymousPatron left out: a system account, not a registration — as the PLS's
   registered users leave it out);
2. **deleted by staff in Koha**: Koha moves the patron's row to ``deletedborrowers`` (a copy, the
   ``borrowers`` row goes), so a patron is never in both; every row of it is counted;
3. **removed by retention**: the run keeps each removed patron once in the warehouse's
   ``stats_patrons_removed`` (:mod:`patronguard.retention.removed`) and deletes the ``borrowers`` row in the
   same batch (the ledger makes the two exactly-once), so the patron is counted from the warehouse only — and
   so is a ``deletedborrowers`` copy the run purges (``removed_as`` ``deleted_in_koha``, counted in the batch
   that deletes it).

Copies purged by runs before store migration 9 were not counted: once the ledger shows such a purge the
registrations of those patrons are gone and the measure is refused (one line, how many), never answered short.
Copies Koha's own ``cleanup_database.pl --deleted-patrons`` purges are gone unseen; patronguard cannot know.

The dimensions are those of the patron at enrolment: the branch and category on the record, the age band of
the year enrolled minus the year born (the bands of the circulation warehouse, which bands a patron's age in
the year of each loan). ``stats_patrons_removed.age_band`` (for ``removed_patrons``) is the age in the card's
expiry year instead; ``enrolled_age_band`` beside it is the one counted here. Rows the warehouse kept before
store migration 9 have neither enrolment month nor age band at enrolment ("?"): a request that needs them is
refused with how many removals lack it ("ask by year"). The warehouse keeps months, never days: by day or
week (or over part of a month) registrations are answered only while no removed patron enrolled in the range.
A patron without an enrolment day is in no period and is not counted.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import InputError
from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..retention.aggregate import UNKNOWN, age_band, day_of
from ..store import Store
from ..store.migrations import MONTH_NOT_KEPT
from .query_warehouse import day_bound, dimension

#: the dimensions a registration has: its period (from the enrolment day) and the patron's at enrolment
REGISTRATION_DIMS = ("day", "week", "month", "quarter", "year", "branch", "patron_category", "age_band")
#: Koha's copy of the patrons deleted by staff (every release line has it; a test ILS may not)
DELETED_COPIES = "deletedborrowers"
_ALIGNED_MONTH = (lambda d: d.day == 1, lambda d: (d + dt.timedelta(days=1)).day == 1)


def check_registrations_answerable(request) -> None:
    """Refuse, before any database is opened, what a registration does not have (items, collections …)."""
    other = [d for d in request.grouping if d not in REGISTRATION_DIMS]
    if other:
        raise InputError(f"--measures: new_registrations is counted by period, branch, patron_category and "
                         f"age_band (the patron's at enrolment) only, not by {', '.join(other)}")


def _needs(request) -> tuple[bool, bool, bool]:
    """(needs the day, needs the month, needs the age band at enrolment) of a removed patron."""
    first, last = request.from_day, request.to_day
    dims = set(request.grouping)
    part_month = ((first is not None and not _ALIGNED_MONTH[0](first))
                  or (last is not None and not _ALIGNED_MONTH[1](last)))
    part_year = ((first is not None and (first.month, first.day) != (1, 1))
                 or (last is not None and (last.month, last.day) != (12, 31)))
    day = part_month or bool(dims & {"day", "week"})
    month = day or part_year or bool(dims & {"month", "quarter"})
    return day, month, "age_band" in dims


def _removed_in_range(store: Store, request, without_month: bool) -> int:
    """Removals (with a known enrolment year) the request's years and filters reach; ``without_month``: only
    those kept before migration 9 (month not kept)."""
    t = store["stats_patrons_removed"]
    query = sa.select(sa.func.coalesce(sa.func.sum(t.c.patrons), 0)).where(t.c.enrolled_year > 0)
    if without_month:
        query = query.where(t.c.enrolled_month == MONTH_NOT_KEPT)
    if request.from_day is not None:
        query = query.where(t.c.enrolled_year >= request.from_day.year)
    if request.to_day is not None:
        query = query.where(t.c.enrolled_year <= request.to_day.year)
    for dim, column in (("branch", t.c.branch), ("patron_category", t.c.patron_category)):
        if dim in request.where:
            query = query.where(column == sa.bindparam(f"where_{dim}", request.where[dim], type_=sa.String))
    if "year" in request.where:
        query = query.where(t.c.enrolled_year == int(request.where["year"]))
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def uncounted_copies_purged(store: Store) -> int:
    """Copies of deleted patrons the done batches deleted without counting them (batches prepared before
    store migration 9; since then each purged copy is counted into ``stats_patrons_removed``, ``removed_as``
    ``deleted_in_koha``, in the batch that deletes it)."""
    from ..retention.ledger import DONE, Deltas
    from ..retention.removed import DELETED_IN_KOHA

    batches = store["retention_batches"]
    missing = 0
    with store.engine.connect() as conn:
        for (blob,) in conn.execute(sa.select(batches.c.deltas).where(batches.c.status == DONE,
                                                                      batches.c.table_name == DELETED_COPIES)):
            deltas = Deltas.from_blob(blob)
            deleted = deltas.counts.get(DELETED_COPIES, {}).get("deleted", 0)
            counted = sum(n for k, n in deltas.patrons_removed.items() if k[-1] == DELETED_IN_KOHA)
            missing += max(deleted - counted, 0)
    return missing


def check_registrations_complete(store: Store, request) -> None:
    """Refuse (one line, with how many) what the warehouse and the ILS together cannot count completely."""
    purged = uncounted_copies_purged(store)
    if purged:
        raise InputError(f"--measures: new_registrations cannot be complete: {purged:,} copies of patrons deleted "
                         f"in Koha ({DELETED_COPIES}) were purged by retention runs before store migration 9, "
                         "which kept no count of them")
    needs_day, needs_month, needs_band = _needs(request)
    if needs_day and (n := _removed_in_range(store, request, without_month=False)):
        raise InputError(f"--by/--from/--to: new_registrations of the {n:,} patrons removed by retention who "
                         "enrolled in these years are kept by enrolment month, not day: ask by month, quarter "
                         "or year over whole months")
    if (needs_month or needs_band) and (n := _removed_in_range(store, request, without_month=True)):
        what = "enrolment month" if needs_month else "age band at enrolment"
        raise InputError(f"--by/--from/--to: new_registrations: {n:,} patrons removed by retention before store "
                         f"migration 9 have no {what} kept: ask by year"
                         + ("" if needs_month else " without age_band"))


def registration_counts(ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, request) -> dict[tuple, int]:
    """Registrations per cell of ``request.grouping``: live patrons + Koha's deleted copies + the warehouse's
    removed patrons (see the module docstring), each grouped in its own database with bound values only."""
    check_registrations_answerable(request)
    check_registrations_complete(store, request)
    out: dict[tuple, int] = {}

    def add(cells: dict[tuple, int]) -> None:
        for cell, n in cells.items():
            out[cell] = out.get(cell, 0) + n

    with ils.connect() as conn:
        for table in (pii_map.patron_table, DELETED_COPIES):
            if table in shape.tables:
                anonymous = shape.anonymous_patron if table == pii_map.patron_table else None
                add(_live(conn, shape.tables[table], pii_map.patron_key, anonymous, request))
    if not _needs(request)[0]:   # by day or week: no removed patron enrolled in range (else refused above)
        with store.engine.connect() as conn:
            add(_removed(conn, store, request))
    return out


def _grouped(conn: Connection, inner: sa.Subquery, request, counted: sa.ColumnElement) -> dict[tuple, int]:
    keys = [inner.c[d] for d in request.grouping]
    query = (sa.select(*keys, sa.func.sum(counted))
             .where(*(inner.c[d] == sa.bindparam(f"where_{d}", v, type_=sa.String) for d, v in request.where.items()))
             .group_by(*keys))
    return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in conn.execute(query) if row[-1]}


def _live(conn: Connection, t: sa.Table, key: str, anonymous: int | None, request) -> dict[tuple, int]:
    """Rows of a patron table (``borrowers`` or ``deletedborrowers``) per cell, by their enrolment day."""
    dialect = conn.dialect.name
    day = day_of(t.c.dateenrolled, dialect)
    columns = {"branch": sa.func.coalesce(t.c.branchcode, UNKNOWN),
               "patron_category": sa.func.coalesce(t.c.categorycode, UNKNOWN),
               "age_band": age_band(t.c.dateenrolled, t.c.dateofbirth)}
    inner = sa.select(*(dimension(d, columns, day, dialect).label(d) for d in request.grouping),
                      sa.literal_column("1").label("one")).where(t.c.dateenrolled.is_not(None))
    if anonymous is not None:
        inner = inner.where(t.c[key] != anonymous)
    if request.from_day is not None:
        inner = inner.where(day >= day_bound(request.from_day, dialect))
    if request.to_day is not None:
        inner = inner.where(day <= day_bound(request.to_day, dialect))
    sub = inner.subquery("registered")
    return _grouped(conn, sub, request, sub.c.one)


def _quarter(month: sa.ColumnElement) -> sa.ColumnElement:
    """"YYYY-MM" as "YYYY-Qn" (the label ``query_warehouse.period`` gives the same month)."""
    number = sa.func.substr(month, 6, 2)
    quarter = sa.case(*((number <= sa.literal_column(f"'{last}'"), sa.literal_column(f"'-Q{q}'"))
                        for q, last in ((1, "03"), (2, "06"), (3, "09"))), else_=sa.literal_column("'-Q4'"))
    return sa.type_coerce(sa.func.substr(month, 1, 4), sa.String).concat(sa.type_coerce(quarter, sa.String))


def _removed(conn: Connection, store: Store, request) -> dict[tuple, int]:
    """The warehouse's removed patrons per cell, by enrolment month (or year: rows from before migration 9
    count by year only — the checks above refuse what would need more)."""
    t = store["stats_patrons_removed"]
    columns = {"year": sa.cast(t.c.enrolled_year, sa.String), "month": t.c.enrolled_month,
               "quarter": _quarter(t.c.enrolled_month), "branch": t.c.branch,
               "patron_category": t.c.patron_category, "age_band": t.c.enrolled_age_band}
    inner = sa.select(*(columns[d].label(d) for d in request.grouping), t.c.patrons).where(t.c.enrolled_year > 0)
    first, last = request.from_day, request.to_day
    if first is not None:
        inner = inner.where(t.c.enrolled_year >= first.year)
        if (first.month, first.day) != (1, 1):  # whole months here (checked): compare the kept month
            inner = inner.where(t.c.enrolled_month >= sa.bindparam("first_month", first.isoformat()[:7]))
    if last is not None:
        inner = inner.where(t.c.enrolled_year <= last.year)
        if (last.month, last.day) != (12, 31):
            inner = inner.where(t.c.enrolled_month <= sa.bindparam("last_month", last.isoformat()[:7]))
    sub = inner.subquery("removed")
    return _grouped(conn, sub, request, sub.c.patrons)
