"""One home for everything patronguard keeps; nothing written into the working directory; every
environment variable documented; the default policy packaged; progress for people."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import run_cli

from patronguard import settings

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\bPATRONGUARD_[A-Z0-9_]*[A-Z0-9]\b")


# ----------------------------------------------------------------------------- environment variables
def _variables_in_code() -> set[str]:
    listed = subprocess.run(["git", "ls-files", "*.py", "*.yaml", "*.sh", ".ci/*"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    names: set[str] = set()
    for name in listed:
        path = ROOT / name
        if path.is_file():
            names |= set(NAME.findall(path.read_text(errors="replace")))
    return names


def test_every_environment_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):]
    table = table[:table.index("\n## ", 5)]
    documented = set(re.findall(r"^\| `(PATRONGUARD_[A-Z0-9_]+)` \|", table, flags=re.M))
    used = _variables_in_code()
    assert {"PATRONGUARD_HOME", "PATRONGUARD_DIRECTOR_PUBLIC_KEY", "PATRONGUARD_EXPECTATIONS"} <= used
    assert used - documented == set(), "add these to the README's Configuration table"


# ----------------------------------------------------------------------------- the home
@pytest.fixture
def fresh_home(monkeypatch, tmp_path):
    """No PATRONGUARD_* configuration but a home in tmp_path; the working directory another empty folder."""
    for name in ("PATRONGUARD_VAR", "PATRONGUARD_KEY_DIR", "PATRONGUARD_DIRECTOR_PUBLIC_KEY", "PATRONGUARD_ILS_URL",
                 "PATRONGUARD_STORE_URL", "PATRONGUARD_POLICY", "PATRONGUARD_HOME"):
        monkeypatch.delenv(name, raising=False)
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("PATRONGUARD_HOME", str(home))
    monkeypatch.chdir(cwd)
    return home, cwd


def test_default_home_is_the_per_user_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("PATRONGUARD_HOME", raising=False)
    monkeypatch.delenv("PATRONGUARD_VAR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert settings.home() == tmp_path / "data" / "patronguard"
    assert settings.var_dir() == tmp_path / "data" / "patronguard" / "var"
    assert settings.key_dir() == tmp_path / "data" / "patronguard" / "var" / "keys"
    assert settings.store_url() == f"sqlite:///{tmp_path / 'data' / 'patronguard' / 'var' / 'patronguard.db'}"
    assert settings.ils_url() == f"sqlite:///{tmp_path / 'data' / 'patronguard' / 'var' / 'ils.db'}"
    assert ROOT not in settings.home().parents and settings.home() != ROOT


def test_home_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("PATRONGUARD_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("PATRONGUARD_VAR", raising=False)
    monkeypatch.delenv("PATRONGUARD_KEY_DIR", raising=False)
    assert settings.var_dir() == tmp_path / "h" / "var"
    monkeypatch.setenv("PATRONGUARD_VAR", "elsewhere")          # relative: under the home, not the cwd
    assert settings.var_dir() == tmp_path / "h" / "elsewhere"
    monkeypatch.setenv("PATRONGUARD_KEY_DIR", str(tmp_path / "k"))
    assert settings.key_dir() == tmp_path / "k"
    monkeypatch.setenv("PATRONGUARD_HOME", "relative/home")
    with pytest.raises(Exception, match="relative path"):
        settings.home()


def test_default_policy_is_packaged_and_identical_to_the_checkouts():
    from patronguard.policy import load_policy

    for name in settings.PACKAGED_POLICIES:
        packaged = Path(settings.packaged_policy(name))
        assert packaged.is_file() and "patronguard" in packaged.parts
        assert packaged.read_bytes() == (ROOT / "policy" / f"{name}.yaml").read_bytes(), \
            f"patronguard/policy/defaults/{name}.yaml differs from policy/{name}.yaml: copy it over"
    assert load_policy(settings.policy_path()).library.startswith("Westchester")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"patronguard.policy" = ["defaults/*.yaml"]' in pyproject and '"platformdirs' in pyproject


def test_read_only_commands_write_nothing_into_the_working_directory(fresh_home, capsys):
    home, cwd = fresh_home
    request = str(ROOT / "examples" / "requests" / "westchester-s4-telephone.json")
    code, out, _ = run_cli(capsys, "policy", "check", settings.packaged_policy())
    assert code == 0 and "valid" in out
    code, out, _ = run_cli(capsys, "request", "decide", request)        # the packaged default policy
    assert code == 0, out
    code, _, err = run_cli(capsys, "retention", "report")                # no ILS in the home: refused
    assert code != 0 and "ils.db" in err
    run_cli(capsys, "audit", "verify")
    run_cli(capsys, "holds", "list")
    assert list(cwd.iterdir()) == []
    assert not (home / "var" / "ils.db").exists()


# ----------------------------------------------------------------------------- list commands
def test_list_commands_print_tables_and_json(fresh_home, capsys):
    import json

    request = str(ROOT / "examples" / "requests" / "westport-s4-subpoena-after-counsel.json")
    code, out, err = run_cli(capsys, "request", "submit", request, "--by", "desk-3")
    assert code == 0, err
    request_id = out.strip()
    code, out, _ = run_cli(capsys, "request", "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "state", "action"] and "requester" in out
    assert request_id[:8] in out
    code, out, _ = run_cli(capsys, "request", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["request_id"] == request_id and listed[0]["state"] == "received"
    code, out, _ = run_cli(capsys, "holds", "list", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_cli(capsys, "holds", "list")
    assert "no active legal holds" in out
    code, out, _ = run_cli(capsys, "obligations", "list", "--json")
    assert code == 0 and isinstance(json.loads(out), list)


# ----------------------------------------------------------------------------- progress
def test_retention_progress_plain_is_one_line_per_table():
    from patronguard.cli.progress import RunProgress

    now = [0.0]
    lines: list[str] = []
    shown = RunProgress(plain=True, echo=lines.append, clock=lambda: now[0])

    class Table:
        def __init__(self, table, actionable):
            self.table, self.actionable = table, actionable

    shown.measured(type("R", (), {"tables": [Table("old_issues", 300_000), Table("statistics", 10)]})())
    shown("validating the ILS")
    for done in range(1, 201):               # 200 batches: no line each
        now[0] += 0.1
        shown(f"old_issues: {done * 1500:,} rows stripped")
    shown("statistics: 10 rows stripped")
    shown.close()
    assert lines[0] == "validating the ILS"
    assert "old_issues: 300,000 rows stripped in 20.0 s" in lines
    assert any(line.startswith("old_issues: ") and "of 300,000" in line for line in lines)   # a running line
    assert lines[-1].startswith("statistics: 10 rows stripped in ")
    assert len(lines) <= 6, lines


def test_retention_progress_bar_runs(capsys):
    from patronguard.cli.progress import RunProgress

    with RunProgress(plain=False) as shown:
        shown("found Koha")
        shown("old_issues: 5 rows stripped")
        shown("old_issues: 10 rows stripped")
        shown("verifying")
    assert shown.finished == [line for line in shown.finished if line.startswith("old_issues: 10 rows stripped in ")]


def test_ils_init_speaks_at_once(tmp_path):
    from patronguard.ils import LibrarySpec, init_ils

    lines: list[str] = []
    init_ils(f"sqlite:///{tmp_path / 'ils.db'}", LibrarySpec(patrons=20, loans=100, years=2, seed=1,
                                                               until=dt.date(2026, 6, 30)), progress=lines.append)
    assert lines[0].startswith("building 20 patrons and 100 loans into ")
