"""The store: versioned migrations on all three backends, idempotent, upgrading step by step."""
from __future__ import annotations

import sqlalchemy as sa

from patronguard.store import MIGRATIONS, current_version, migrate, open_store
from patronguard.store.migrations import applied_versions
from patronguard.workflow.requests import place_hold_now


def test_migrations_apply_once_on_every_backend(empty_db_url):
    store = open_store(empty_db_url)
    assert current_version(store.engine) == MIGRATIONS[-1].version
    assert migrate(store.engine) == []  # nothing left to apply
    assert {"pipeline_runs", "legal_holds", "retention_batches", "stats_circulation", "audit_events"} <= set(store.tables)
    store.engine.dispose()


def test_an_old_store_upgrades_through_every_step(empty_db_url):
    engine = sa.create_engine(empty_db_url)
    first = MIGRATIONS[0]
    with engine.begin() as conn:
        from patronguard.store.migrations import _schema_migrations

        _schema_migrations.create(conn)
        first.upgrade(conn)
        conn.execute(_schema_migrations.insert().values(version=1, name=first.name, applied_at=sa.func.now()))
    assert migrate(engine) == [m.version for m in MIGRATIONS[1:]]
    with engine.connect() as conn:
        assert applied_versions(conn) == [m.version for m in MIGRATIONS]
    engine.dispose()


def test_legal_holds_round_trip(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    place_hold_now(store, 42, reason="subpoena", placed_by="director")
    assert store.active_legal_holds() == {42}
