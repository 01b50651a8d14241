"""Policy files: typed, cited, cross-checked; a malformed one fails with file and field path."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from patronguard.errors import PolicyError
from patronguard.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]


def test_both_library_policies_load_with_adoption_and_version():
    westchester = load_policy(ROOT / "policy/westchester.yaml")
    westport = load_policy(ROOT / "policy/westport.yaml")
    assert westchester.library == "Westchester Public Library"
    assert westport.policy.policy.adopted == dt.date(2003, 5, 12)
    assert westport.policy.policy.adopted_by == "Library Board of Trustees"
    assert [a.date for a in westport.policy.policy.amended] == [dt.date(2007, 10, 17), dt.date(2010, 9, 15)]
    assert "Library Director" in westport.policy.retention.decided_by  # Westport §3
    assert "westport-6" in westport.policy.retention.clauses            # Board may amend
    assert westport.policy.policy.statutes == ["Conn. Gen. Stat. §11-25(b)"]
    assert len(westchester.sha256) == 64 and westchester.sha256 != westport.sha256


def test_every_rule_cites_a_defined_clause():
    for name in ("westchester", "westport"):
        policy = load_policy(ROOT / f"policy/{name}.yaml").policy
        for rule in policy.retention.schedule:
            assert rule.clauses and all(c in policy.clauses for c in rule.clauses)
            assert all(cite.startswith(("Westchester §", "Westport §", "Conn. Gen. Stat.")) for cite in policy.cite(rule.clauses))


def _variant(tmp_path, mutate) -> Path:
    data = yaml.safe_load((ROOT / "policy/westport.yaml").read_text())
    mutate(data)
    path = tmp_path / "westport.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _rule(data, records):
    return next(r for r in data["retention"]["schedule"] if r["records"] == records)


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: _rule(d, "loan_history").update(keep_days="ninety"), "retention.schedule[0].keep_days"),
    (lambda d: _rule(d, "loan_history").update(keep_days=-1), "retention.schedule[0].keep_days"),
    (lambda d: _rule(d, "loan_history").update(keepdays=30), "unknown field"),
    (lambda d: _rule(d, "loan_history").update(action="shred"), "retention.schedule[0].action"),
    (lambda d: _rule(d, "loan_history").update(action="anonymise_then_delete"), "is not possible for loan_history"),
    (lambda d: _rule(d, "loan_history").update(records="loans"), "unknown record class 'loans'"),
    (lambda d: _rule(d, "loan_history").update(clauses=["westport-9"]), "['westport-9']"),
    (lambda d: _rule(d, "loan_history").update(clauses=[]), "retention.schedule[0].clauses"),
    (lambda d: d["retention"]["schedule"].pop(), "no rule for records 'recalls'"),
    (lambda d: d["retention"]["schedule"].append(dict(d["retention"]["schedule"][0])), "scheduled twice"),
    (lambda d: d["policy"].update(timezone="Mars/Olympus"), "policy.timezone"),
    (lambda d: d["policy"].pop("version"), "policy.version: Field required"),
    (lambda d: d["policy"].update(adopted="last May"), "policy.adopted"),
    (lambda d: d.pop("retention"), "retention: Field required"),
])
def test_malformed_policy_fails_naming_file_and_field(tmp_path, mutate, expected):
    path = _variant(tmp_path, mutate)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_field_errors_show_the_expected_form(tmp_path):
    path = _variant(tmp_path, lambda d: _rule(d, "loan_history").update(keep_days="ninety"))
    with pytest.raises(PolicyError, match=r"expected e\.g\. 30"):
        load_policy(path)


@pytest.mark.parametrize("content, expected", [
    ("policy: [unclosed", "not valid YAML at line"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_unparseable_policy_file(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(PolicyError, match=expected):
        load_policy(path)


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")
