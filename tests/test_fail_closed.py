"""Fail closed: unmapped patron data, unknown releases and schema surprises stop the run
with one clear line before anything is written."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
import sqlalchemy as sa
import yaml

from checksums import table_checksums
from cli_helpers import run_cli
from conftest import ROOT
from patronguard.errors import NotKohaShapedError, RunPlanError, UnmappedPatronDataError, UnsupportedReleaseError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.retention.run import run_retention

AS_OF = dt.date(2026, 6, 30)
SPEC = dict(patrons=120, loans=900, years=2, seed=13, until=AS_OF)


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("failclosed") / "ils.db"
    init_ils(f"sqlite:///{path}", LibrarySpec(**SPEC))
    return path


@pytest.fixture
def ils(master, tmp_path):
    path = tmp_path / "ils.db"
    shutil.copy(master, path)
    return f"sqlite:///{path}"


def _sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def _policy_with(tmp_path, change) -> str:
    data = yaml.safe_load((ROOT / "policy/westchester.yaml").read_text())
    change(data)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


LOCAL_TABLE = ("CREATE TABLE local_patron_notes (id INTEGER PRIMARY KEY, borrowernumber INTEGER, "
               "note TEXT, created DATE)",
               "INSERT INTO local_patron_notes VALUES (1, 5, 'called about her fines', '2020-01-01')")


def test_unmapped_patron_data_is_listed_by_check_and_refused_by_run(ils, tmp_path, capsys):
    _sql(ils, *LOCAL_TABLE)
    code, out, _ = run_cli(capsys, "ils", "check", "--db", ils, "--json")
    assert code == 0
    found = yaml.safe_load(out)["unmapped_patron_data"]
    assert {"table": "local_patron_notes", "column": "borrowernumber", "why": "named like a link to a patron"} in found
    assert any(f["column"] == "note" and "free text" in f["why"] for f in found)
    before = table_checksums(ils)
    store = tmp_path / "store.db"
    code, out, err = run_cli(capsys, "retention", "run", "--db", ils, "--policy", str(ROOT / "policy/westchester.yaml"),
                             "--store", f"sqlite:///{store}", "--as-of", AS_OF.isoformat())
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "local_patron_notes.borrowernumber" in lines[0] and "out_of_scope" in lines[0]
    assert table_checksums(ils) == before
    assert not store.exists()


def test_out_of_scope_with_a_reason_lets_the_run_go_and_is_reported(ils, tmp_path):
    _sql(ils, *LOCAL_TABLE)
    policy = _policy_with(tmp_path, lambda d: d["retention"].update(out_of_scope=[
        {"table": "local_patron_notes", "reason": "Kept by the Friends of the Library under their own agreement."}]))
    run = run_retention(ils, policy, store_url=f"sqlite:///{tmp_path / 'store.db'}", as_of=AS_OF)
    assert run.verification.ok
    (entry,) = run.plan.out_of_scope
    assert entry["what"] == "local_patron_notes (whole table)" and set(entry["columns"]) == {"borrowernumber", "note"}
    assert run.summary()["plan"]["out_of_scope"] == run.plan.out_of_scope  # what the audit event carries


def test_out_of_scope_needs_a_reason(tmp_path):
    from patronguard.errors import PolicyError
    from patronguard.policy import load_policy

    policy = _policy_with(tmp_path, lambda d: d["retention"].update(out_of_scope=[{"table": "x", "reason": ""}]))
    with pytest.raises(PolicyError, match="out_of_scope"):
        load_policy(policy)


@pytest.mark.parametrize("version, words", [
    ("18.0500000", "older than the oldest supported release line"),
    ("31.0500000", "newer than any release patronguard knows"),
])
def test_unsupported_release_is_refused_before_anything_is_written(ils, tmp_path, version, words):
    _sql(ils, f"UPDATE systempreferences SET value = '{version}' WHERE variable = 'Version'")
    before = table_checksums(ils)
    with pytest.raises(UnsupportedReleaseError, match=words):
        run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=f"sqlite:///{tmp_path / 's.db'}",
                      as_of=AS_OF)
    assert table_checksums(ils) == before
    assert not (tmp_path / "s.db").exists()


def test_a_database_without_a_version_is_refused(ils, tmp_path):
    _sql(ils, "DELETE FROM systempreferences WHERE variable = 'Version'")
    with pytest.raises(UnsupportedReleaseError, match="no Version"):
        run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=f"sqlite:///{tmp_path / 's.db'}",
                      as_of=AS_OF)


def test_a_patron_table_with_another_key_is_refused(ils, tmp_path):
    _sql(ils, "ALTER TABLE borrowers RENAME TO borrowers_old",
         "CREATE TABLE borrowers AS SELECT * FROM borrowers_old", "DROP TABLE borrowers_old")
    with pytest.raises(NotKohaShapedError, match=r"borrowers has primary key none; expected \['borrowernumber'\]"):
        run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=f"sqlite:///{tmp_path / 's.db'}",
                      as_of=AS_OF)


def test_an_age_column_of_another_type_is_refused(ils, tmp_path):
    _sql(ils, "ALTER TABLE old_issues RENAME COLUMN returndate TO returndate_old",
         "ALTER TABLE old_issues ADD COLUMN returndate VARCHAR(30)",
         "UPDATE old_issues SET returndate = returndate_old")
    with pytest.raises(NotKohaShapedError, match=r"old_issues.returndate is VARCHAR\(30\); expected a DATE"):
        run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=f"sqlite:///{tmp_path / 's.db'}",
                      as_of=AS_OF)


def test_a_strip_the_database_cannot_do_is_refused_at_planning(ils, tmp_path):
    def strip_article_requests(data):
        data["retention"]["anonymous_patron"] = "null"
        for rule in data["retention"]["schedule"]:
            if rule["records"] == "article_requests":
                rule["action"] = "strip"
    policy = _policy_with(tmp_path, strip_article_requests)
    before = table_checksums(ils)
    with pytest.raises(RunPlanError, match=r"article_requests: .*cannot be NULL"):
        run_retention(ils, policy, store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    assert table_checksums(ils) == before


def test_unmapped_refusal_names_the_first_and_counts_the_rest(ils, tmp_path):
    _sql(ils, *LOCAL_TABLE, "CREATE TABLE patron_extra (id INTEGER PRIMARY KEY, manager_id INTEGER)")
    with pytest.raises(UnmappedPatronDataError, match=r"local_patron_notes\.borrowernumber .* \(and 2 more"):
        run_retention(ils, str(ROOT / "policy/westchester.yaml"), store_url=f"sqlite:///{tmp_path / 's.db'}",
                      as_of=AS_OF)
