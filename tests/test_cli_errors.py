"""Bad input: one clear line on stderr, a non-zero exit, nothing written."""
from __future__ import annotations

import sqlite3

import pytest

from checksums import table_checksums
from conftest import ROOT
from cli_helpers import run_cli

POLICY = str(ROOT / "policy/westchester.yaml")




def assert_one_line_error(code, err, *needles):
    assert code != 0
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("patronguard:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err   # progress may precede; one error line, last
    assert errors[0].startswith("patronguard: error: ")
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_unreachable_database(capsys, tmp_path):
    store = tmp_path / "store.db"
    code, _, err = run_cli(capsys, "retention", "report", "--db", "mysql+pymysql://root@127.0.0.1:1/koha",
                           "--policy", POLICY, "--store", f"sqlite:///{store}")
    assert_one_line_error(code, err, "--db", "cannot connect", "127.0.0.1:1")
    assert code == 3  # transient: worth retrying
    assert not store.exists()


def test_password_never_shown(capsys):
    code, _, err = run_cli(capsys, "ils", "check", "--db", "postgresql+psycopg://me:hunter2@127.0.0.1:1/evergreen")
    assert_one_line_error(code, err, "cannot connect")
    assert "hunter2" not in err and "***" in err


@pytest.mark.parametrize("url", ["http://example.org/koha", "oracle://scott@db/koha", "not a url"])
def test_wrong_url_scheme(capsys, tmp_path, url):
    code, _, err = run_cli(capsys, "retention", "report", "--db", url, "--policy", POLICY,
                           "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "--db")
    assert "expected sqlite:///PATH" in err
    assert not (tmp_path / "s.db").exists()


def test_missing_sqlite_file_is_not_created(capsys, tmp_path):
    ils = tmp_path / "nope.db"
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{ils}", "--policy", POLICY,
                           "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "does not exist")
    assert not ils.exists() and not (tmp_path / "s.db").exists()


def test_database_that_is_not_koha_shaped(capsys, tmp_path):
    ils = tmp_path / "other.db"
    with sqlite3.connect(ils) as conn:
        conn.execute("CREATE TABLE borrowers (borrowernumber INTEGER PRIMARY KEY, privacy INTEGER)")
    before = table_checksums(f"sqlite:///{ils}")
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{ils}", "--policy", POLICY,
                           "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "is not Koha-shaped", "missing table")
    assert table_checksums(f"sqlite:///{ils}") == before
    assert not (tmp_path / "s.db").exists()


def test_missing_required_column_is_named(capsys, tmp_path, small_ils_sqlite_copy):
    with sqlite3.connect(small_ils_sqlite_copy) as conn:
        conn.execute("DROP INDEX IF EXISTS old_issues_returndate")
        conn.execute("ALTER TABLE old_issues DROP COLUMN returndate")
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                           "--policy", POLICY, "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "table 'old_issues' has no column 'returndate'")


def test_malformed_policy(capsys, tmp_path, small_ils_sqlite_copy):
    bad = tmp_path / "policy.yaml"
    bad.write_text((ROOT / "policy/westchester.yaml").read_text().replace("keep_days: 60", "keep_days: sixty", 1))
    before = table_checksums(f"sqlite:///{small_ils_sqlite_copy}")
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                           "--policy", str(bad), "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, str(bad), "retention.schedule[0].keep_days")
    assert table_checksums(f"sqlite:///{small_ils_sqlite_copy}") == before
    assert not (tmp_path / "s.db").exists()


def test_as_of_in_the_future(capsys, tmp_path, small_ils_sqlite_copy):
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                           "--policy", POLICY, "--as-of", "2999-01-01", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "--as-of", "2999-01-01 is in the future")
    assert not (tmp_path / "s.db").exists()


def test_as_of_not_a_date(capsys, tmp_path, small_ils_sqlite_copy):
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                           "--policy", POLICY, "--as-of", "yesterday", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert_one_line_error(code, err, "--as-of", "expected YYYY-MM-DD")


def test_validation_failure_stops_the_report(capsys, tmp_path, small_ils_sqlite_copy):
    with sqlite3.connect(small_ils_sqlite_copy) as conn:
        conn.execute("UPDATE old_issues SET returndate = '2001-01-01 00:00:00.000000' "
                     "WHERE issue_id IN (SELECT issue_id FROM old_issues LIMIT 3)")
    code, _, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                           "--policy", POLICY, "--store", f"sqlite:///{tmp_path / 's.db'}", "--as-of", "2026-06-30")
    assert_one_line_error(code, err, "suite ils_source failed", "old_issues.returndate/issuedate", "(3 rows)")
    assert not (tmp_path / "s.db").exists()


def test_report_json_and_files(capsys, tmp_path, small_ils_sqlite_copy):
    import json

    code, out, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}",
                             "--policy", POLICY, "--store", f"sqlite:///{tmp_path / 's.db'}",
                             "--as-of", "2026-06-30", "--json", "--out", str(tmp_path / "reports"))
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == "2026-06-30" and data["totals"]["past_retention"] > 0
    assert (tmp_path / "reports" / "exposure-2026-06-30.json").exists()
    assert (tmp_path / "reports" / "exposure-2026-06-30.md").exists()


def test_policy_check_command(capsys):
    code, out, _ = run_cli(capsys, "policy", "check", str(ROOT / "policy/westport.yaml"))
    assert code == 0 and "valid" in out and "Westport Library" in out


def test_store_migrate_command(capsys, tmp_path):
    from patronguard.store import MIGRATIONS

    code, out, _ = run_cli(capsys, "store", "migrate", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert code == 0 and f"schema version {MIGRATIONS[-1].version}" in out


@pytest.mark.parametrize("args, line", [
    (["retention", "run", "--bogus"], "patronguard: error: retention run: No such option '--bogus'."),
    (["keys", "sign"], "patronguard: error: keys sign: Missing argument 'REQUEST.json'."),
    (["request", "submit", "x.json"], "patronguard: error: request submit: Missing option '--by'."),
    (["holds", "release", "1", "--print-request", "--json", "extra"],
     "patronguard: error: holds release: Got unexpected extra argument (extra)"),
    (["request", "step", "3f2c", "opened", "--by", "desk-3"],
     "patronguard: error: request step: Invalid value for '{referred|counsel_review|decided|closed}': 'opened' "
     "is not one of 'referred', 'counsel_review', 'decided', 'closed'."),
    (["retention", "repor"], "patronguard: error: retention: No such command 'repor'."),
    (["frobnicate"], "patronguard: error: No such command 'frobnicate'."),
])
def test_usage_errors_are_one_line_naming_the_command(capsys, tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(line), err     # click may add "Did you mean …?"
    assert "Usage:" not in err
    assert list(tmp_path.iterdir()) == []       # nothing written


def test_a_group_without_its_command_still_shows_its_help(capsys):
    code, _, err = run_cli(capsys, "retention")
    assert code == 2 and "Usage: patronguard retention" in err and "verify" in err
