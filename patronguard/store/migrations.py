"""Versioned migrations of the store, from the first table on.

Each migration is a numbered function that builds the DDL *as it was at that
version* (never the current table objects), so an old store upgrades through
every step. ``schema_migrations`` records what has been applied.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .migrations_stats import (  # noqa: F401 (MONTH_NOT_KEPT re-exported)
    MONTH_NOT_KEPT, _v8_circulation_location, _v9_removed_enrolment_month, _v10_stats_release_periods,
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection], None]


def _v1_runs_and_holds(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "pipeline_runs", md,
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("ils", sa.String(255), nullable=False),
        sa.Column("policy_library", sa.String(255), nullable=False),
        sa.Column("policy_version", sa.String(40), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
    )
    sa.Table(
        "legal_holds", md,
        sa.Column("hold_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("borrowernumber", sa.Integer, nullable=False, index=True),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("reference", sa.String(255)),
        sa.Column("placed_at", sa.DateTime, nullable=False),
        sa.Column("placed_by", sa.String(255), nullable=False),
        sa.Column("released_at", sa.DateTime),
        sa.Column("released_by", sa.String(255)),
    )
    md.create_all(conn)


def _v2_ledger_warehouse_audit(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "retention_batches", md,
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(36), nullable=False, index=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("scrubbed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("selector", sa.LargeBinary, nullable=False),
        sa.Column("deltas", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    sa.Table(
        "stats_circulation", md,
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("branch", sa.String(10), nullable=False),
        sa.Column("itemtype", sa.String(10), nullable=False),
        sa.Column("ccode", sa.String(80), nullable=False),
        sa.Column("patron_category", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("renewals", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.PrimaryKeyConstraint("source", "event", "day", "branch", "itemtype", "ccode", "patron_category", "age_band"),
    )
    sa.Table(
        "stats_distinct_patrons", md,
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("branch", sa.String(10), nullable=False),
        sa.Column("patron_category", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("sketch", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("source", "month", "branch", "patron_category", "age_band"),
    )
    sa.Table(
        "stats_patrons_removed", md,
        sa.Column("expiry_year", sa.Integer, nullable=False),
        sa.Column("branch", sa.String(10), nullable=False),
        sa.Column("patron_category", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("enrolled_year", sa.Integer, nullable=False),
        sa.Column("patrons", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("expiry_year", "branch", "patron_category", "age_band", "enrolled_year"),
    )
    sa.Table(
        "audit_events", md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    sa.Table(
        "store_settings", md,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    md.create_all(conn)


def _v3_audit_mac_and_log_id(conn: Connection) -> None:
    """Audit entries get a MAC (keyed with a key outside the store); the log gets an id for its checkpoints."""
    import uuid

    conn.execute(sa.text("ALTER TABLE audit_events ADD COLUMN entry_mac VARCHAR(64)"))
    settings = sa.Table("store_settings", sa.MetaData(),
                        sa.Column("name", sa.String(64), primary_key=True),
                        sa.Column("value", sa.String(255), nullable=False))
    conn.execute(settings.insert().values(name="audit_log_id", value=str(uuid.uuid4())))


def _v4_workflow(conn: Connection) -> None:
    from ..workflow.schema import create_workflow_tables

    create_workflow_tables(conn)


def _v5_authorization_uses(conn: Connection) -> None:
    """Each use of a written authorization, once: the authorization id (SHA-256 of its signature) is the key,
    and the nonce of the request it was bound to is unique too, so a second use fails on the constraint."""
    md = sa.MetaData()
    sa.Table(
        "authorization_uses", md,
        sa.Column("authorization_id", sa.String(64), primary_key=True),
        sa.Column("request_nonce", sa.String(32), unique=True),
        sa.Column("used_at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(255), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signer", sa.String(16), nullable=False),
    )
    md.create_all(conn)


def _v6_idempotent_decisions(conn: Connection) -> None:
    """Retry-safe decisions: a stored request's decision is recorded once per input — the request's stored
    document (evidence and written authorization included) under one policy — keyed by ``decision_sha256``
    (:func:`patronguard.workflow.service.decision_key`); each obligation carries the key of the decision that
    opened it, unique per (request, decision, obligation code), so deciding the same request again (a retried
    flow run) opens nothing new.

    An older store may hold obligations a retried decision opened twice: among the *open* obligations of one
    request with the same code and text, the first is kept and the later ones are closed (``closed_by``
    ``store migration 6``, the note naming the one kept). Nothing is deleted; closed obligations are left as
    they are. Their ``decision_sha256`` stays empty (NULL: not part of the unique key)."""
    md = sa.MetaData()
    sa.Table(
        "request_decisions", md,
        sa.Column("decision_sha256", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
    )
    md.create_all(conn)
    conn.execute(sa.text("ALTER TABLE obligations ADD COLUMN decision_sha256 VARCHAR(64)"))
    obligations = sa.Table("obligations", sa.MetaData(),
                           sa.Column("obligation_id", sa.Integer, primary_key=True),
                           sa.Column("request_id", sa.String(36)), sa.Column("code", sa.String(64)),
                           sa.Column("text", sa.Text), sa.Column("closed_at", sa.DateTime),
                           sa.Column("closed_by", sa.String(255)), sa.Column("note", sa.Text))
    rows = conn.execute(sa.select(obligations.c.obligation_id, obligations.c.request_id, obligations.c.code,
                                  obligations.c.text)
                        .where(obligations.c.closed_at.is_(None), obligations.c.request_id.is_not(None))
                        .order_by(obligations.c.obligation_id)).all()
    kept: dict[tuple, int] = {}
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    for obligation_id, request_id, code, text in rows:
        first = kept.setdefault((request_id, code, text), obligation_id)
        if first != obligation_id:
            conn.execute(obligations.update().where(obligations.c.obligation_id == obligation_id).values(
                closed_at=now, closed_by="store migration 6",
                note=f"duplicate of obligation {first}: the same decision opened it twice (a retried run)"))
    conn.execute(sa.text("CREATE UNIQUE INDEX uq_obligations_decision "
                         "ON obligations (request_id, decision_sha256, code)"))


def _v7_stats_releases(conn: Connection) -> None:
    """What each statistics table released (counts only, never a patron): a later release of the same table
    must keep it, so complementary suppression protects against it too (issue 12)."""
    md = sa.MetaData()
    sa.Table(
        "stats_releases", md,
        sa.Column("table_sha256", sa.String(64), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("figures", sa.Text, nullable=False),         # JSON [[key, value], …]; a total's part is null
        sa.Column("first_released_at", sa.DateTime, nullable=False),
        sa.Column("last_released_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("table_sha256", "measure"),
    )
    md.create_all(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "pipeline runs and legal holds", _v1_runs_and_holds),
    Migration(2, "batch ledger, statistics warehouse, audit events", _v2_ledger_warehouse_audit),
    Migration(3, "audit entry MACs and the audit log id", _v3_audit_mac_and_log_id),
    Migration(4, "access requests, their steps and obligations; holds linked to requests", _v4_workflow),
    Migration(5, "single-use written authorizations", _v5_authorization_uses),
    Migration(6, "retry-safe decisions: one decision per input, obligations keyed by it", _v6_idempotent_decisions),
    Migration(7, "statistics releases: what each table published, kept by later releases", _v7_stats_releases),
    Migration(8, "statistics warehouse: the shelving location is part of a circulation cell",
              _v8_circulation_location),
    Migration(9, "removed patrons keep their enrolment month and age band at enrolment", _v9_removed_enrolment_month),
    Migration(10, "statistics release periods: nested periods of one question cannot be differenced",
              _v10_stats_release_periods),
)

_schema_migrations = sa.Table(
    "schema_migrations", sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def applied_versions(conn: Connection) -> list[int]:
    if not sa.inspect(conn).has_table("schema_migrations"):
        return []
    return [r[0] for r in conn.execute(sa.select(_schema_migrations.c.version).order_by(_schema_migrations.c.version))]


def migrate(engine: Engine) -> list[int]:
    """Apply every pending migration, each in its own transaction; return those applied.

    Two processes opening a new store at once would both create it: when anything is pending, the
    migrations run under a lock of their own (see :func:`_migration_lock`)."""
    with engine.connect() as conn:
        if {m.version for m in MIGRATIONS} <= set(applied_versions(conn)):
            return []
    with _migration_lock(engine):
        return _migrate(engine)


@contextmanager
def _migration_lock(engine: Engine):
    """Held while migrating: a PostgreSQL advisory lock, a MariaDB named lock, or an flock on a file next to
    a SQLite store (``<file>.patronguard-migrate-lock``)."""
    dialect = engine.dialect.name
    name = f"patronguard:migrate:{engine.url.database}"[:64]
    if dialect == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            yield
            return
        import fcntl

        with open(f"{engine.url.database}.patronguard-migrate-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            yield
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") & (2**63 - 1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        else:
            conn.execute(sa.text("SELECT GET_LOCK(:n, 120)"), {"n": name})
        try:
            yield
        finally:
            if dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            else:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})


def _migrate(engine: Engine) -> list[int]:
    applied: list[int] = []
    with engine.begin() as conn:
        _schema_migrations.create(conn, checkfirst=True)
    for migration in MIGRATIONS:
        with engine.begin() as conn:
            if migration.version in applied_versions(conn):
                continue
            migration.upgrade(conn)
            conn.execute(_schema_migrations.insert().values(
                version=migration.version, name=migration.name,
                applied_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
            ))
            applied.append(migration.version)
    return applied


def current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        versions = applied_versions(conn)
    return max(versions, default=0)
