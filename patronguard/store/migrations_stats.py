"""Store migrations 8–10, of the statistics warehouse and releases (issue 12): each builds its DDL as it was
at that version, like every migration (:mod:`patronguard.store.migrations` lists them in order)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


#: ``stats_patrons_removed.enrolled_month`` of the rows kept before migration 9: the month was not kept
MONTH_NOT_KEPT = "?"


def _v9_removed_enrolment_month(conn: Connection) -> None:
    """A removed patron's enrolment month and age band at enrolment join ``stats_patrons_removed``'s key, so
    registrations (``new_registrations``) can be counted by month after retention removed the patron; and how
    the record went (``removed_as``: ``expired``, a patron the run removed, or ``deleted_in_koha``, a copy of a
    patron deleted by staff that the run purged), so both kinds of registration stay counted.

    The primary key changes, so the table is rebuilt: created under a new name, the old rows copied with
    ``enrolled_month`` and ``enrolled_age_band`` set to ``MONTH_NOT_KEPT`` ("?": not kept — their counts and
    every other column unchanged) and ``removed_as`` ``expired`` (before, only expired patrons were kept), the old table dropped and the new one renamed (the same three statements on
    SQLite, MariaDB and PostgreSQL; the new key's constraint is named for the version so it never meets the old
    one's name on PostgreSQL)."""
    columns = ("expiry_year", "branch", "patron_category", "age_band", "enrolled_year")
    md = sa.MetaData()
    new = sa.Table(
        "stats_patrons_removed_v9", md,
        sa.Column("expiry_year", sa.Integer, nullable=False),
        sa.Column("branch", sa.String(10), nullable=False),
        sa.Column("patron_category", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("enrolled_year", sa.Integer, nullable=False),
        sa.Column("enrolled_month", sa.String(7), nullable=False),
        sa.Column("enrolled_age_band", sa.String(8), nullable=False),
        sa.Column("removed_as", sa.String(16), nullable=False),
        sa.Column("patrons", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*columns, "enrolled_month", "enrolled_age_band", "removed_as",
                                name="pk_stats_patrons_removed_v9"),
    )
    old = sa.Table("stats_patrons_removed", sa.MetaData(), *(sa.Column(c) for c in (*columns, "patrons")))
    md.create_all(conn)
    marker = sa.literal(MONTH_NOT_KEPT, sa.String)
    conn.execute(new.insert().from_select(
        [*columns, "enrolled_month", "enrolled_age_band", "removed_as", "patrons"],
        sa.select(*(old.c[c] for c in columns), marker, marker, sa.literal("expired", sa.String), old.c.patrons)))
    conn.execute(sa.text("DROP TABLE stats_patrons_removed"))
    conn.execute(sa.text("ALTER TABLE stats_patrons_removed_v9 RENAME TO stats_patrons_removed"))


def _v10_stats_release_periods(conn: Connection) -> None:
    """Which question and which days each released statistics table answered: a later release of the same
    question over a period nested with an earlier one must not give away their difference (issue 12)."""
    md = sa.MetaData()
    sa.Table(
        "stats_release_periods", md,
        sa.Column("table_sha256", sa.String(64), primary_key=True),
        sa.Column("question_sha256", sa.String(64), nullable=False, index=True),  # dimensions and filters
        sa.Column("first_day", sa.Date),                                          # null: since the first loan
        sa.Column("last_day", sa.Date, nullable=False),
    )
    md.create_all(conn)


#: the cell of ``stats_circulation`` from migration 8 on: the shelving location is part of it
_V8_CELL = ("source", "event", "day", "branch", "itemtype", "ccode", "location", "patron_category", "age_band")


def _v8_circulation_location(conn: Connection) -> None:
    """``stats_circulation`` keeps the item's shelving location (Koha's ``items.location`` /
    ``statistics.location``) as part of its cell, so totals by location are complete. Rows counted before get
    location "?" ("counted before the location was kept") and keep their counts; no two old rows can meet in
    one new cell, since the old key plus a constant is still a key.

    The primary key changes, so each backend does it its own way, in one transaction where it can: MariaDB
    in a single ``ALTER TABLE`` (atomic for InnoDB: DDL there cannot join a transaction); PostgreSQL adds the
    column and swaps the key inside the migration's transaction; SQLite cannot alter a key, so the table is
    rebuilt and copied inside an explicit transaction (pysqlite would otherwise run the DDL outside one)."""
    dialect = conn.dialect.name
    cell = ", ".join(_V8_CELL)
    if dialect == "sqlite":
        _v8_sqlite_rebuild(conn)
    elif dialect == "postgresql":
        conn.execute(sa.text("ALTER TABLE stats_circulation ADD COLUMN location VARCHAR(80) NOT NULL DEFAULT '?'"))
        key = sa.inspect(conn).get_pk_constraint("stats_circulation")["name"]
        quoted = conn.dialect.identifier_preparer.quote(key)
        conn.execute(sa.text(f"ALTER TABLE stats_circulation DROP CONSTRAINT {quoted}"))
        conn.execute(sa.text(f"ALTER TABLE stats_circulation ADD CONSTRAINT {quoted} PRIMARY KEY ({cell})"))
    else:
        conn.execute(sa.text("ALTER TABLE stats_circulation ADD COLUMN location VARCHAR(80) NOT NULL DEFAULT '?' "
                             f"AFTER ccode, DROP PRIMARY KEY, ADD PRIMARY KEY ({cell})"))


def _v8_sqlite_rebuild(conn: Connection) -> None:
    if not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")
    columns = [
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("branch", sa.String(10), nullable=False),
        sa.Column("itemtype", sa.String(10), nullable=False),
        sa.Column("ccode", sa.String(80), nullable=False),
        sa.Column("location", sa.String(80), nullable=False, server_default="?"),
        sa.Column("patron_category", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("renewals", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    ]
    sa.Table("stats_circulation_v8", sa.MetaData(), *columns, sa.PrimaryKeyConstraint(*_V8_CELL)).create(conn)
    kept = ", ".join(c.name for c in columns if c.name != "location")
    conn.exec_driver_sql(f"INSERT INTO stats_circulation_v8 ({kept}, location) "
                         f"SELECT {kept}, '?' FROM stats_circulation")
    conn.exec_driver_sql("DROP TABLE stats_circulation")
    conn.exec_driver_sql("ALTER TABLE stats_circulation_v8 RENAME TO stats_circulation")
