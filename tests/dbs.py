"""Throw-away databases on the three servers the tests run against.

SQLite is a file in a temporary folder; MariaDB and PostgreSQL get a fresh
database (``pg_test_<random>``) created on the server named by
``PATRONGUARD_TEST_MYSQL`` / ``PATRONGUARD_TEST_POSTGRES`` (defaults: this
machine's servers) and dropped afterwards. A server that is down makes the
test fail, never skip.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

BACKENDS = ("sqlite", "mariadb", "postgresql")

MYSQL_SERVER = os.environ.get("PATRONGUARD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
POSTGRES_SERVER = os.environ.get("PATRONGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database on ``backend``; drop it afterwards."""
    name = f"pg_test_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / (name + '.db')}"
        return
    if backend == "mariadb":
        server = MYSQL_SERVER
        create = f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
        drop = f"DROP DATABASE IF EXISTS {name}"
        admin_url = f"{server}/test"
    elif backend == "postgresql":
        server = POSTGRES_SERVER
        create = f"CREATE DATABASE {name}"
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        admin_url = f"{server}/postgres"
    else:  # pragma: no cover - a typo in a test
        raise ValueError(backend)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(create)
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
        admin.dispose()


def migrate_store_to(engine: sa.engine.Engine, version: int) -> None:
    """Bring a store up to migration ``version`` only, as an older patronguard left it."""
    from patronguard.store import migrations

    real = migrations.MIGRATIONS
    migrations.MIGRATIONS = tuple(m for m in real if m.version <= version)
    try:
        migrations.migrate(engine)
    finally:
        migrations.MIGRATIONS = real
