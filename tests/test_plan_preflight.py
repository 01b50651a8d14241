"""Nothing is written if the run cannot complete: the store is not the ILS, the audit directories are
writable, and the database user may run every statement (rehearsed, refused in one line)."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from checksums import table_checksums
from cli_helpers import run_cli
from conftest import ROOT, SMALL_SPEC
from dbs import MYSQL_SERVER, POSTGRES_SERVER, fresh_database
from patronguard.errors import InputError, RunPlanError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.preflight import refused_statement, same_database
from patronguard.retention.run import run_retention

AS_OF = SMALL_SPEC["until"]
POLICY = str(ROOT / "policy/westchester.yaml")
SPEC = dict(patrons=120, loans=900, years=2, seed=13, until=AS_OF)


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("preflight") / "ils.db"
    init_ils(f"sqlite:///{path}", LibrarySpec(**SPEC))
    return path


@pytest.fixture
def ils(master, tmp_path):
    path = tmp_path / "ils.db"
    shutil.copy(master, path)
    return path


def table_names(path) -> set[str]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- store ≠ ILS
def test_a_store_that_is_the_ils_is_refused_before_anything_is_written(ils, tmp_path, monkeypatch, capsys):
    before, tables = table_checksums(f"sqlite:///{ils}"), table_names(ils)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").mkdir()
    os.symlink(ils, tmp_path / "link" / "same.db")
    for store in (f"sqlite:///{ils}", "sqlite:///ils.db", f"sqlite:///{tmp_path}/./link/../ils.db",
                  f"sqlite:///{tmp_path / 'link' / 'same.db'}"):
        with pytest.raises(InputError, match=r"--store: .* is the ILS's own database"):
            run_retention(f"sqlite:///{ils}", POLICY, store_url=store, as_of=AS_OF)
        code, _, err = run_cli(capsys, "retention", "run", "--db", f"sqlite:///{ils}", "--store", store,
                               "--policy", POLICY, "--as-of", AS_OF.isoformat(), "--dry-run")
        assert code == 2 and err.count("\n") == 1 and "is the ILS's own database" in err, err
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{ils}", "--store", f"sqlite:///{ils}",
                           "--policy", POLICY, "--as-of", AS_OF.isoformat())
    assert code == 2 and "is the ILS's own database" in err, err
    assert table_checksums(f"sqlite:///{ils}") == before and table_names(ils) == tables


def test_a_store_holding_koha_tables_is_refused(ils, master, tmp_path):
    other = tmp_path / "copy-of-the-ils.db"
    shutil.copy(master, other)
    before = table_checksums(f"sqlite:///{other}")
    with pytest.raises(InputError, match=r"holds Koha tables \(borrowers, systempreferences\)"):
        run_retention(f"sqlite:///{ils}", POLICY, store_url=f"sqlite:///{other}", as_of=AS_OF)
    assert table_checksums(f"sqlite:///{other}") == before


@pytest.mark.parametrize("a, b, same", [
    ("postgresql+psycopg://u@localhost/koha", "postgresql+psycopg://other@127.0.0.1:5432/koha", True),
    ("mysql+pymysql://u@db.example.org/koha", "mariadb+pymysql://u@DB.example.org:3306/koha", True),
    ("postgresql+psycopg://u@localhost/koha", "postgresql+psycopg://u@localhost/patronguard", False),
    ("postgresql+psycopg://u@localhost:5433/koha", "postgresql+psycopg://u@localhost/koha", False),
    ("mysql+pymysql://u@localhost/koha", "postgresql+psycopg://u@localhost/koha", False),
    ("sqlite:///:memory:", "sqlite:///:memory:", False),
])
def test_same_database_compares_locations(a, b, same):
    assert same_database(make_url(a), make_url(b)) is same


# ----------------------------------------------------------------------------- the audit directory
def test_an_audit_directory_that_cannot_be_written_stops_the_run_before_the_ils_changes(ils, tmp_path,
                                                                                       monkeypatch):
    var = tmp_path / "var"
    var.mkdir()
    (var / "audit").write_text("a file where the audit directory should be\n")  # unwritable, even for root
    monkeypatch.setenv("PATRONGUARD_VAR", str(var))
    before = table_checksums(f"sqlite:///{ils}")
    store = tmp_path / "store.db"
    with pytest.raises(RunPlanError, match=r"the audit directory .*audit is not writable .* nothing was written"):
        run_retention(f"sqlite:///{ils}", POLICY, store_url=f"sqlite:///{store}", as_of=AS_OF)
    assert table_checksums(f"sqlite:///{ils}") == before
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM retention_batches")).scalar() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM audit_events")).scalar() == 0
    engine.dispose()


# ----------------------------------------------------------------------------- permissions
def test_a_refused_statement_is_named_by_kind_and_table():
    def refused(sql):
        return refused_statement(sa.exc.DBAPIError(sql, {}, Exception("permission denied")))

    assert refused("DELETE FROM message_queue WHERE false") == ("DELETE", "message_queue")
    assert refused('UPDATE "old_issues" SET borrowernumber=%s') == ("UPDATE", "old_issues")
    assert refused("SELECT old_issues.issue_id FROM old_issues WHERE x FOR UPDATE OF old_issues") == \
        ("SELECT … FOR UPDATE (row lock)", "old_issues")
    assert refused("INSERT INTO audit_events (seq) VALUES (?)") == ("INSERT", "audit_events")


def _restricted_user(backend: str, database: str, grants: str):
    """Create a login with ``grants`` ("SELECT" or "SELECT, UPDATE") on every table of ``database``;
    return (its URL, a function dropping it)."""
    name = f"patronguard_ro_{uuid.uuid4().hex[:8]}"
    if backend == "postgresql":
        admin = sa.create_engine(f"{POSTGRES_SERVER}/{database}", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN")
            conn.exec_driver_sql(f"GRANT {grants} ON ALL TABLES IN SCHEMA public TO {name}")
        server = make_url(POSTGRES_SERVER)

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP OWNED BY {name}")
                conn.exec_driver_sql(f"DROP ROLE {name}")
            admin.dispose()
    else:
        admin = sa.create_engine(f"{MYSQL_SERVER}/{database}", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE USER '{name}'@'%%'")   # %% : pymysql formats the statement
            conn.exec_driver_sql(f"GRANT {grants} ON {database}.* TO '{name}'@'%%'")
        server = make_url(MYSQL_SERVER)

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP USER '{name}'@'%%'")
            admin.dispose()
    return str(server.set(username=name, password=None, database=database)), drop


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_user_without_write_privileges_is_refused_at_planning_in_one_line(backend, tmp_path, capsys):
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SPEC))
        before = table_checksums(url)
        database = make_url(url).database
        for grants, refused in (("SELECT", r"(SELECT … FOR UPDATE \(row lock\)|UPDATE|DELETE) on \w+"),
                                ("SELECT, UPDATE", r"DELETE on \w+")):
            limited, drop = _restricted_user(backend, database, grants)
            try:
                store = f"sqlite:///{tmp_path / (grants[:6] + '.db')}"
                with pytest.raises(RunPlanError, match=rf"^\w+: cannot [a-z ]+: the database refused {refused} "):
                    run_retention(limited, POLICY, store_url=store, as_of=AS_OF)
                code, _, err = run_cli(capsys, "retention", "run", "--db", limited, "--store", store,
                                       "--policy", POLICY, "--as-of", AS_OF.isoformat())
                errors = [line for line in err.splitlines() if line.startswith("patronguard: error:")]
                assert code == 2 and len(errors) == 1 and err.endswith(errors[0] + "\n"), err
                assert "the database refused" in errors[0] and "nothing was written" in errors[0], err
            finally:
                drop()
        assert table_checksums(url) == before


def test_a_store_that_refuses_the_runs_writes_stops_the_run_before_the_ils_changes(ils, tmp_path):
    from patronguard.retention.engine import checked_hash_key
    from patronguard.store import open_store

    with fresh_database("postgresql", tmp_path) as store_url:
        store = open_store(store_url)          # migrated, and the hash key's fingerprint recorded, by its owner
        checked_hash_key(store)
        store.engine.dispose()
        limited, drop = _restricted_user("postgresql", make_url(store_url).database, "SELECT")
        admin = sa.create_engine(store_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:          # the run lock records its holder in store_settings
            conn.exec_driver_sql(f"GRANT INSERT, UPDATE, DELETE ON store_settings TO {make_url(limited).username}")
        admin.dispose()
        before = table_checksums(f"sqlite:///{ils}")
        try:
            with pytest.raises(RunPlanError, match=r"^the store refused INSERT on retention_batches \(permission "
                                                   r"denied .*\); .*nothing was written$"):
                run_retention(f"sqlite:///{ils}", POLICY, store_url=limited, as_of=AS_OF)
        finally:
            drop()
        assert table_checksums(f"sqlite:///{ils}") == before
