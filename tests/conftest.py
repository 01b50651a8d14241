from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# keys and reports of the tests never land in the checkout
os.environ.setdefault("PATRONGUARD_VAR", __import__("tempfile").mkdtemp(prefix="patronguard-tests-"))
os.environ.setdefault("PATRONGUARD_HASH_KEY", "7e" * 32)

from dbs import BACKENDS, fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: The small synthetic library most tests share (read-only use).
SMALL_SPEC = dict(patrons=300, loans=6000, years=4, seed=7, until=dt.date(2026, 6, 30))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def empty_db_url(backend, tmp_path) -> str:
    """A new empty database on each backend, dropped after the test."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def small_ils_url(request, tmp_path_factory) -> str:
    """A generated small Koha-shaped ILS per backend, shared read-only by tests."""
    from patronguard.ils import LibrarySpec, init_ils

    with fresh_database(request.param, tmp_path_factory.mktemp("ils")) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        yield url


@pytest.fixture(scope="session")
def small_ils_sqlite_master(tmp_path_factory) -> Path:
    """A generated small ILS as a SQLite file, to copy for tests that change it."""
    from patronguard.ils import LibrarySpec, init_ils

    path = tmp_path_factory.mktemp("master") / "ils.db"
    init_ils(f"sqlite:///{path}", LibrarySpec(**SMALL_SPEC))
    return path


@pytest.fixture
def small_ils_sqlite_copy(small_ils_sqlite_master, tmp_path) -> Path:
    """A private copy of the small SQLite ILS, free to change."""
    import shutil

    copy = tmp_path / "ils.db"
    shutil.copyfile(small_ils_sqlite_master, copy)
    return copy


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test API for the whole session (its start takes seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
