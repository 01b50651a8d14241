"""A policy that deletes history: statistics first (unless it says explicitly they are not kept), an
after-run suite that follows the policy, and a suite the policy would fail refused before any write."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from checksums import table_checksums
from cli_helpers import run_cli
from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database
from patronguard.errors import PolicyError, RunPlanError
from patronguard.ils import LibrarySpec, init_ils
from patronguard.ils.piimap import builtin_pii_map
from patronguard.policy import check_against_after_suite, load_policy
from patronguard.retention.run import run_retention, verify_only
from patronguard.validate import after_suite_conflicts, suites

AS_OF = SMALL_SPEC["until"]
HISTORY = ("loan_history", "hold_history")


def policy_file(tmp_path, name: str = "policy.yaml", **changes) -> str:
    """westchester.yaml with ``changes`` (records → fields) applied to its rules."""
    data = yaml.safe_load((ROOT / "policy/westchester.yaml").read_text())
    for rule in data["retention"]["schedule"]:
        rule.update(changes.get(rule["records"], {}))
    if "anonymous_patron" in changes:
        data["retention"]["anonymous_patron"] = changes["anonymous_patron"]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def deleting(tmp_path, **extra) -> str:
    return policy_file(tmp_path, **{r: {"action": "delete", **extra} for r in HISTORY})


def warehouse(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT source, SUM(events) FROM stats_circulation GROUP BY source")).all())
    engine.dispose()
    return {k: int(v) for k, v in rows.items()}


def counts(url: str, *tables: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("delete") / "ils.db"
    init_ils(f"sqlite:///{path}", LibrarySpec(**SMALL_SPEC))
    return path


@pytest.fixture
def ils(master, tmp_path):
    path = tmp_path / "ils.db"
    shutil.copy(master, path)
    return f"sqlite:///{path}"


# ----------------------------------------------------------------------------- the policy model
@pytest.mark.parametrize("rule, expected", [
    ({"action": "aggregate_then_strip", "keep_statistics": False}, "contradicts action aggregate_then_strip"),
    ({"action": "strip", "keep_statistics": False}, "not to strip"),
    ({"action": "delete", "keep_statistics": "no"}, "keep_statistics"),
    ({"action": "delete", "keep_statistics": 0}, "keep_statistics"),
])
def test_keep_statistics_must_fit_the_action(tmp_path, rule, expected):
    path = policy_file(tmp_path, loan_history=rule)
    with pytest.raises(PolicyError, match=expected) as err:
        load_policy(path)
    assert str(err.value).startswith(path) and "retention.schedule[0]" in str(err.value)


def test_keep_statistics_on_records_with_no_statistics_is_refused(tmp_path):
    path = policy_file(tmp_path, notices={"keep_statistics": False})
    with pytest.raises(PolicyError, match=r"keep_statistics: records notices have no statistics to keep"):
        load_policy(path)


def test_delete_of_aggregated_history_means_aggregate_then_delete_unless_statistics_are_dropped(tmp_path):
    pii_map = builtin_pii_map("koha")
    kept = load_policy(deleting(tmp_path)).policy
    assert kept.rule_for("loan_history").action_for(pii_map.tables["old_issues"]) == "aggregate_then_delete"
    assert kept.rule_for("notices").action_for(pii_map.tables["message_queue"]) == "delete"
    dropped = load_policy(policy_file(tmp_path, "dropped.yaml",
                                      loan_history={"action": "delete", "keep_statistics": False})).policy
    assert dropped.rule_for("loan_history").action_for(pii_map.tables["old_issues"]) == "delete"


# ----------------------------------------------------------------------------- policy × after-run suite
def legacy_suite(tmp_path, table: str = "old_issues") -> str:
    """The after-run suite with ``table``'s row count pinned to the count before the run, as it was."""
    folder = tmp_path / "expectations"
    shutil.copytree(ROOT / "patronguard" / "validate" / "expectations", folder)
    path = folder / "ils_after" / f"{table}.json"
    doc = json.loads(path.read_text())
    for exp in doc["expectations"]:
        if exp["type"] == "expect_table_row_count_to_equal":
            exp["kwargs"]["value"] = {"$PARAMETER": f"rows_before_{table}"}
            exp["meta"] = {"why": "stripping never deletes rows of this table"}
    path.write_text(json.dumps(doc))
    return str(folder)


def test_the_shipped_after_suite_follows_every_action(tmp_path):
    pii_map = builtin_pii_map("koha")
    for path in (ROOT / "policy/westchester.yaml", ROOT / "policy/westport.yaml", deleting(tmp_path)):
        assert after_suite_conflicts(load_policy(path).policy, pii_map) == []


def test_policy_check_names_an_after_suite_expectation_the_policy_would_fail(tmp_path, monkeypatch, capsys):
    folder = legacy_suite(tmp_path)
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", Path(folder))
    strip = str(ROOT / "policy/westchester.yaml")
    code, out, _ = run_cli(capsys, "policy", "check", strip)
    assert code == 0 and "valid" in out                         # stripping keeps the rows: no conflict
    path = deleting(tmp_path)
    code, _, err = run_cli(capsys, "policy", "check", path)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and line.startswith("patronguard: error:"), err
    assert "loan_history: aggregate then delete deletes rows of old_issues" in line, line
    assert "expectations/ils_after/old_issues.json: expect_table_row_count_to_equal" in line, line
    assert "stripping never deletes rows" in line


def test_a_not_null_link_the_policy_strips_to_null_is_a_conflict(tmp_path, monkeypatch):
    folder = tmp_path / "expectations"
    shutil.copytree(ROOT / "patronguard" / "validate" / "expectations", folder)
    path = folder / "ils_after" / "old_issues.json"
    doc = json.loads(path.read_text())
    doc["expectations"].append({"type": "expect_column_values_to_not_be_null",
                                "kwargs": {"column": "borrowernumber"}, "meta": {"why": "every loan has a borrower"}})
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", folder)
    nulls = load_policy(policy_file(tmp_path, anonymous_patron="null"))
    with pytest.raises(PolicyError, match=r"sets old_issues\.borrowernumber to NULL, but .* expects it not null"):
        check_against_after_suite(nulls)
    check_against_after_suite(load_policy(ROOT / "policy/westchester.yaml"))  # AnonymousPatron: not null


def test_the_run_refuses_a_conflicting_suite_before_writing(ils, tmp_path, monkeypatch):
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", Path(legacy_suite(tmp_path)))
    before = table_checksums(ils)
    with pytest.raises(RunPlanError, match=r"after-run suite would fail: loan_history: aggregate then delete"):
        run_retention(ils, deleting(tmp_path), store_url=f"sqlite:///{tmp_path / 's.db'}", as_of=AS_OF)
    assert table_checksums(ils) == before


# ----------------------------------------------------------------------------- the run
@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_deleting_history_counts_it_into_the_warehouse_first(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        init_ils(url, LibrarySpec(**SMALL_SPEC))
        store_url = f"sqlite:///{tmp_path / 'store.db'}"
        policy = deleting(tmp_path)
        rows_before = counts(url, "old_issues", "old_reserves")
        run = run_retention(url, policy, store_url=store_url, as_of=AS_OF, batch_size=700)
        steps = {s.table: s.action for s in run.plan.steps}
        assert steps["old_issues"] == steps["old_reserves"] == "aggregate_then_delete"
        outcome = {t.table: t for t in run.tables}
        rows_after = counts(url, "old_issues", "old_reserves")
        stored = warehouse(store_url)
        for table in ("old_issues", "old_reserves"):
            o = outcome[table]
            assert o.deleted > 0 and o.aggregated == o.deleted and o.stripped == 0, o
            assert rows_before[table] - rows_after[table] == o.deleted       # what the after-suite checked
            assert stored[table] == o.deleted                                # every deleted row counted once
        assert run.verification.ok and run.validation_after["success"]
        whys = {o["table"]: o["why"] for o in run.validation_after["outcomes"] if "row_count" in o["expectation"]}
        assert whys["old_issues"].startswith("the policy deletes rows past their cutoff (loan_history")
        assert whys["statistics"] == "stripping never deletes rows of this table"
        again = run_retention(url, policy, store_url=store_url, as_of=AS_OF, batch_size=700)
        assert again.batch_ids == [] and warehouse(store_url) == stored
        assert verify_only(url, policy, store_url=store_url, as_of=AS_OF).ok


def test_keep_statistics_false_deletes_without_counting(ils, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    run = run_retention(ils, deleting(tmp_path, keep_statistics=False), store_url=store_url, as_of=AS_OF)
    outcome = {t.table: t for t in run.tables}
    assert outcome["old_issues"].deleted > 0 and outcome["old_issues"].aggregated == 0
    assert {s.table: s.action for s in run.plan.steps}["old_issues"] == "delete"
    assert "old_issues" not in warehouse(store_url) and "old_reserves" not in warehouse(store_url)
    assert run.verification.ok and run.validation_after["success"]


def _cli(ils: str, store: str, policy: str) -> list[str]:
    return [sys.executable, "-m", "patronguard.cli", "retention", "run", "--db", ils, "--store", store,
            "--policy", policy, "--as-of", AS_OF.isoformat(), "--batch-size", "300", "--json"]


@pytest.mark.parametrize("fault", ["after-prepare:3", "after-ils-commit:4"])
def test_a_killed_aggregate_then_delete_batch_is_recovered_exactly_once(master, tmp_path, fault):
    policy = deleting(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PATRONGUARD_FAULT"}
    reference, crashed = tmp_path / "ref.db", tmp_path / "ils.db"
    shutil.copy(master, reference)
    shutil.copy(master, crashed)
    ref_store, store = f"sqlite:///{tmp_path / 'ref-store.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    done = subprocess.run(_cli(f"sqlite:///{reference}", ref_store, policy), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    killed = subprocess.run(_cli(f"sqlite:///{crashed}", store, policy), env=env | {"PATRONGUARD_FAULT": fault},
                            capture_output=True, text=True)
    assert killed.returncode < 0, killed.stderr[-2000:]
    again = subprocess.run(_cli(f"sqlite:///{crashed}", store, policy), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["verified"] is True
    assert table_checksums(f"sqlite:///{crashed}") == table_checksums(f"sqlite:///{reference}")
    assert warehouse(store) == warehouse(ref_store)
