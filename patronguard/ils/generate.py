"""A deterministic synthetic public library, shaped like Koha.

:func:`generate_library` turns a :class:`LibrarySpec` into the rows of every
table of a Koha release line (:mod:`patronguard.ils.line_schema`), parents
before children, in chunks ready for ``executemany``. The same spec (including ``until``) gives the
same rows, byte for byte: everything is drawn from a ``Faker("en_US")``
seeded with ``seed`` and from numpy generators spawned from ``seed``; the
wall clock is only read when ``until`` is None (meaning today).

Row counts: ``spec.patrons`` is every patron ever enrolled, so
``len(borrowers) + len(deletedborrowers) == patrons`` (staff and the
AnonymousPatron included); ``spec.loans`` is every checkout, so
``len(issues) + len(old_issues) == loans``. Everything else follows from
them (see each ``generate_*`` module): about 8 % holds, a fine for each late
loan, statistics rows per issue/renew/return/payment, and so on. The
smaller patron tables (suggestions, ILL requests, reviews, lists …, see
:mod:`.generate_more`) hold a few percent of the members each.

Rows are built for the ``current`` line and adapted to the requested one
(:mod:`.generate_lines`): an older line gets the same library in the
columns its Koha had (``renewals`` for ``renewals_count``, ``accounttype``
codes, ``borrowers.guarantorid`` …), and only the tables it had.

Loans of patrons with ``privacy = 2`` stay linked to them (Koha would
anonymise them at return): the generated library is one whose anonymisation
backlog the pipeline has to clear (see :mod:`.generate_circulation`).

No real person's data is used anywhere: names, streets and towns come from
Faker, e-mail addresses are on the reserved ``example.*`` domains and phone
numbers are random digits.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import InputError
from . import generate_circulation_rows as circ_rows
from . import generate_logs as logs
from . import generate_people_rows as people_rows
from .generate_catalogue import CATEGORIES, branch_rows, build_catalogue, preference_rows
from .generate_circulation import build_loans
from .generate_extra import Extras
from .generate_holds import build_holds
from .generate_lines import LineRows
from .generate_money import build_fines
from .generate_more import extra_tables
from .generate_names import Identities, Pools
from .generate_people import KIND_STAFF, People, build_people
from .generate_util import DAY, Calendar, Columns, Formatter, chunks
from .line_schema import DEFAULT_LINE, check_line

#: Rows per ``executemany`` call.
CHUNK_ROWS = 25_000
MAX_PATRONS = 5_000_000
MAX_LOANS = 50_000_000
MAX_YEARS = 50


def _whole(option: str, value, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = "a positive whole number" if minimum == 1 else f"a whole number of at least {minimum}"
        raise InputError(f"{option} must be {what} (got {value!r})")
    if value > maximum:
        raise InputError(f"{option} must be at most {maximum:,} (got {value!r})")


@dataclass(frozen=True)
class LibrarySpec:
    """What to generate: ``patrons`` ever enrolled, ``loans`` ever made over ``years`` years ending on
    ``until`` (None: today), drawn with ``seed``."""

    patrons: int = 2000
    loans: int = 50000
    years: int = 5
    seed: int = 1
    until: dt.date | None = None

    def __post_init__(self) -> None:
        _whole("--patrons", self.patrons, 10, MAX_PATRONS)
        _whole("--loans", self.loans, 1, MAX_LOANS)
        _whole("--years", self.years, 1, MAX_YEARS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InputError(f"--seed must be a whole number of at least 0 (got {self.seed!r})")
        if self.until is not None:
            if isinstance(self.until, dt.datetime) or not isinstance(self.until, dt.date):
                raise InputError(f"--until must be a date such as 2026-06-30 (got {self.until!r})")
            if self.until.year - self.years < 1950 or self.until.year > 2090:
                raise InputError(f"--until must be a date between {1950 + self.years} and 2090 "
                                 f"(got {self.until.isoformat()})")

    @property
    def end(self) -> dt.date:
        """The last day of the history: ``until``, or today."""
        return self.until if self.until is not None else dt.date.today()


@dataclass(frozen=True)
class TableRows:
    """A chunk of rows for one table: ``rows`` are tuples in ``columns`` order; ``last`` marks the
    table's final chunk."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple]
    last: bool = False


class _Library:
    """Every model the row builders need, drawn once, and the release line the rows are for."""

    def __init__(self, spec: LibrarySpec, dialect: str, line: str = DEFAULT_LINE) -> None:
        self.spec = spec
        self.cal = Calendar.build(spec.end, spec.years)
        self.fmt = Formatter(self.cal.start, dialect)
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(12)]
        self.rngs = streams
        self.pools = Pools.draw(spec.seed)
        self.ids = Identities(self.pools, streams[0])
        library_code = int(streams[1].integers(1000, 10000))
        self.branches = branch_rows(self.ids)
        codes = [b[0] for b in self.branches]
        self.people = build_people(spec.patrons, self.cal, self.ids, streams[2], codes, library_code)
        self.cat = build_catalogue(spec.loans, self.cal, self.ids, streams[3], library_code)
        self.loans = build_loans(spec.loans, self.cal, self.people, self.cat, streams[4])
        self.holds = build_holds(self.cal, self.people, self.cat, self.loans, streams[5])
        self.fines = build_fines(self.cal, self.people, self.cat, self.loans, streams[6])
        staff = self.people.kind == KIND_STAFF
        recent = self.cal.end - streams[7].integers(3600, 5 * DAY, self.people.n)
        self.people.lastseen_t = np.where(staff, np.maximum(self.people.lastseen_t, recent),
                                          self.people.lastseen_t)
        self.line = LineRows(line, self.cal, self.fmt, _first_guarantors(self.people))
        extras = Extras(spec.seed, self.cal, self.fmt, self.pools, self.people, self.cat, self.loans, self.holds,
                        self.line)
        self.extras = list(extra_tables(extras))  # drawn now: nothing is left to fail once writing starts

    def tables(self) -> Iterator[Columns]:
        """Each table's rows in the line's columns, parents before children (foreign keys hold at every
        step); tables the line does not have are left out."""
        for table in self._tables():
            adapted = self.line.adapt(table)
            if adapted is not None:
                yield adapted

    def _tables(self) -> Iterator[Columns]:
        p, cal, fmt, rng = self.people, self.cal, self.fmt, self.rngs
        yield Columns("branches", ["branchcode", "branchname", "branchaddress1", "branchcity", "branchzip",
                                   "branchphone", "branchemail"], [list(c) for c in zip(*self.branches)])
        yield Columns("categories", ["categorycode", "description", "enrolmentperiod", "upperagelimit",
                                     "dateofbirthrequired", "category_type"], [list(c) for c in zip(*CATEGORIES)])
        prefs = preference_rows(int(p.anon_idx) + 1, self.line.facts.version_preference)
        yield Columns("systempreferences", ["variable", "value", "options", "explanation", "type"],
                      [list(c) for c in zip(*prefs)])
        yield people_rows.borrowers(p, fmt)
        yield people_rows.deletedborrowers(p, fmt)
        yield people_rows.borrower_relationships(p)
        yield people_rows.borrower_attributes(p, self.ids, rng[8])
        yield people_rows.borrower_modifications(p, cal, self.ids, fmt, rng[8])
        yield circ_rows.biblio(self.cat, fmt)
        yield circ_rows.items(self.cat, p, self.loans, self.holds, fmt, rng[9])
        text = circ_rows.LoanText(self.loans, fmt)
        yield circ_rows.loans_table("issues", self.loans, text)
        yield circ_rows.loans_table("old_issues", self.loans, text)
        yield circ_rows.holds_table("reserves", self.holds, cal, fmt)
        yield circ_rows.holds_table("old_reserves", self.holds, cal, fmt)
        yield circ_rows.statistics(p, self.cat, self.loans, self.fines, text, fmt, rng[10])
        del text
        yield circ_rows.accountlines(p, self.cat, self.loans, self.fines, cal, fmt)
        yield logs.action_logs(p, self.loans, fmt, rng[11])
        yield logs.message_queue(cal, p, self.cat, self.loans, self.holds, self.branches, fmt, rng[11])
        yield circ_rows.items_last_borrower(self.loans, fmt)
        yield logs.search_history(cal, p, self.pools.words, fmt, rng[11])
        yield from self.extras


def _first_guarantors(p: People) -> np.ndarray:
    """By patron index: the borrowernumber of a juvenile's (first) guarantor, else None."""
    out = np.full(p.n, None, dtype=object)
    juveniles = int((p.category == "J").sum())
    out[p.rel_guarantee[:juveniles]] = (p.rel_guarantor[:juveniles] + 1).astype(object)
    return out


def generate_library(spec: LibrarySpec, *, dialect: str = "sqlite", chunk_rows: int = CHUNK_ROWS,
                     koha_version: str = DEFAULT_LINE) -> Iterator[TableRows]:
    """The synthetic library's rows for the Koha release line ``koha_version``, table by table, in
    chunks of at most ``chunk_rows``.

    The models (patrons, catalogue, loans, holds, fines) are drawn before this
    returns, so a failure there happens before anything is written; rows are
    formatted lazily while iterating. ``dialect`` is the SQLAlchemy dialect
    name of the target database (``sqlite``, ``mysql``, ``mariadb``,
    ``postgresql``): dates and times are ISO text, on SQLite in SQLAlchemy's
    own storage format. Tables come parents before children; a table with
    no rows yields nothing.
    """
    if not isinstance(spec, LibrarySpec):
        raise InputError(f"expected a LibrarySpec, got {type(spec).__name__}")
    library = _Library(spec, dialect, check_line(koha_version))

    def rows() -> Iterator[TableRows]:
        for table in library.tables():
            columns, total, done = tuple(table.names), len(table), 0
            for chunk in chunks(table.values, chunk_rows):
                done += len(chunk)
                yield TableRows(table.table, columns, chunk, done >= total)

    return rows()
