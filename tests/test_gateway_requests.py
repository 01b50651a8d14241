"""Requests: the documented examples decide as documented; bad requests and bad access
rules fail with one line naming the file and field path (an unknown field is an error, not a deny)."""
from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT
from patronguard.cli.requests import request as request_group
from patronguard.errors import InputError, PolicyError
from patronguard.gateway import decide, load_request, parse_request, request_sha256
from patronguard.policy import load_policy

POLICIES = {name: load_policy(ROOT / f"policy/{name}.yaml") for name in ("westchester", "westport")}
DOC = (ROOT / "docs/requests.md").read_text()
EXAMPLES = ROOT / "examples/requests"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| (?P<policy>\w+) \| \*\*(?P<outcome>\w+)\*\* \| (?P<fields>[^|]*) \| "
                 r"(?P<clauses>[^|]*) \| (?P<obligations>[^|]*) \| (?P<reason>[^|]*) \|$", re.M)
DOCUMENTED = {m["file"]: m for m in ROW.finditer(DOC)}
GOOD = {"action": "list_checkouts", "requester": {"role": "patron", "borrowernumber": 4211},
        "subject": {"borrowernumber": 4211}, "channel": "in_person", "fields": ["titles"],
        "evidence": {"identification": "current"}}


def _split(cell: str) -> list[str]:
    cell = cell.strip()
    return [] if cell == "—" else [part.strip() for part in re.split(r"[;,] ", cell)]


def test_every_example_file_is_documented_and_every_documented_file_exists():
    files = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert files == sorted(DOCUMENTED)
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_example_gets_the_documented_decision(name):
    row = DOCUMENTED[name]
    d = decide(load_request(EXAMPLES / name), POLICIES[row["policy"]])
    assert d.outcome == row["outcome"]
    assert d.fields == _split(row["fields"])
    assert d.clauses == [c.strip() for c in row["clauses"].split(";")]
    assert [o.code for o in d.obligations] == _split(row["obligations"])
    assert d.reason == row["reason"].strip()


def test_every_clause_of_both_seeds_has_an_example_or_a_rule():
    for name, loaded in POLICIES.items():
        access = loaded.policy.access
        covered = set(access.cited_clauses())
        assert covered == set(loaded.policy.clauses), name
    for clause in ("s1a", "s1b", "s1c", "s2", "s3", "s4", "s5", "s6"):
        assert any(f.startswith(f"westchester-{clause}") for f in DOCUMENTED), clause
    for clause in ("s2", "s3", "s4", "s5", "s6", "ct-11-25b"):
        assert any(f.startswith(f"westport-{clause}") for f in DOCUMENTED), clause


# ---------------------------------------------------------------- bad requests
@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["evidence"].update(barcod="full"), "request: evidence.barcod: unknown field"),
    (lambda d: d.update(color="red"), "request: color: unknown field"),
    (lambda d: d["requester"].update(name="Jane"), "request: requester.name: unknown field"),
    (lambda d: d.update(action="list_loans"), "request: action: Input should be"),
    (lambda d: d["evidence"].update(identification="yes"), "request: evidence.identification:"),
    (lambda d: d["evidence"].update(barcode="whole"), "(expected e.g. 'full')"),
    (lambda d: d.update(channel="fax"), "request: channel:"),
    (lambda d: d.update(fields=["titles", "poems"]), "request: fields[1]:"),
    (lambda d: d["subject"].update(borrowernumber="Jane Doe"), "request: subject.borrowernumber:"),
    (lambda d: d.pop("subject"), "give subject.borrowernumber"),
    (lambda d: d.update(fields=[]), "list the fields asked for"),
    (lambda d: d.update(fields=["titles", "titles"]), "fields lists a field twice"),
    (lambda d: d.update(action="amend_policy", fields=["titles"], subject=None) or d.pop("subject"),
     "discloses no data: leave out fields"),
    (lambda d: d.pop("channel"), "request: channel: Field required"),
])
def test_bad_request_is_one_line_input_error_naming_the_field(mutate, expected):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    with pytest.raises(InputError) as info:
        parse_request(data)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_unknown_field_is_an_error_not_a_deny(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(json.dumps({**GOOD, "evidence": {"identification": "current", "court_ordr": True}}))
    with pytest.raises(InputError, match=r"req\.json: evidence\.court_ordr: unknown field"):
        load_request(path)
    result = CliRunner().invoke(request_group, ["decide", str(path), "--policy", str(ROOT / "policy/westport.yaml")])
    assert result.exit_code != 0 and isinstance(result.exception, InputError)


def test_error_messages_carry_no_patron_values(tmp_path):
    data = json.loads(json.dumps(GOOD))
    data["subject"]["borrowernumber"] = "Jane Q. Patron, 12 Elm St"
    with pytest.raises(InputError) as info:
        parse_request(data)
    assert "Jane" not in str(info.value) and "Elm" not in str(info.value)


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON at line 1"),
    ("[1, 2]", "expected a mapping at the top level"),
])
def test_unreadable_request_file_names_the_file(tmp_path, content, expected):
    path = tmp_path / "req.json"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(expected)):
        load_request(path)
    with pytest.raises(InputError, match="file not found"):
        load_request(tmp_path / "missing.json")


def test_request_sha256_is_canonical_and_leaves_the_authorization_out():
    a = parse_request(GOOD)
    b = parse_request(json.loads(json.dumps(GOOD, sort_keys=True)))
    c = parse_request({**GOOD, "evidence": {"identification": "current", "written_authorization": {"sig": "x"}}})
    d = parse_request({**GOOD, "evidence": {"identification": "current", "barcode": "none"}})
    e = parse_request({**GOOD, "evidence": {"identification": "expired"}})
    assert request_sha256(a) == request_sha256(b) == request_sha256(c) == request_sha256(d)
    assert request_sha256(a) != request_sha256(e) and len(request_sha256(a)) == 64


# ---------------------------------------------------------------- the command line
def test_cli_prints_reason_outcome_fields_clauses_obligations_and_exits_zero_on_deny():
    runner = CliRunner()
    result = runner.invoke(request_group, ["decide", str(EXAMPLES / "westport-s4-no-subpoena.json"),
                                           "--policy", str(ROOT / "policy/westport.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == DOCUMENTED["westport-s4-no-subpoena.json"]["reason"].strip()
    assert "outcome:     deny" in result.output and "explain_policy" in result.output
    assert "Westport §4" in result.output
    result = runner.invoke(request_group, ["decide", str(EXAMPLES / "westchester-s4-telephone.json"),
                                           "--policy", str(ROOT / "policy/westchester.yaml"), "--json"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["outcome"] == "allow_limited" and out["fields"] == ["item_count", "due_dates"]
    assert out["policy"]["sha256"] == POLICIES["westchester"].sha256 and out["request_id"] == "phone-0001"


def test_cli_help_has_an_example():
    for command in (request_group, request_group.commands["decide"]):
        assert "Example:" in command.help and "patronguard request decide" in command.help.split("Example:")[1]


# ---------------------------------------------------------------- bad access rules
def _variant(tmp_path, mutate):
    data = yaml.safe_load((ROOT / "policy/westport.yaml").read_text())
    mutate(data["access"])
    path = tmp_path / "westport.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


@pytest.mark.parametrize("mutate, expected", [
    (lambda a: a["rules"][0]["when"].update(field="evidence.barcod"), "unknown fact 'evidence.barcod'"),
    (lambda a: a["rules"][0]["when"].update(equals="__import__('os')"), "action is never"),
    (lambda a: a["rules"][0].update(clauses=["westport-9"]), "['westport-9']"),
    (lambda a: a["rules"][0].update(colour="red"), "access.rules[0].colour: unknown field"),
    (lambda a: a["rules"][0]["then"].update(outcome="maybe"), "access.rules[0].then.outcome"),
    (lambda a: a["default"].update(outcome="allow"), "default.outcome must be deny"),
    (lambda a: a["records"].pop("titles"), "classify every field (missing: titles)"),
    (lambda a: a["rules"].append(dict(a["rules"][0])), "is used twice"),
    (lambda a: a["rules"][0].pop("otherwise"), "needs an otherwise branch"),
    (lambda a: a["rules"][0]["then"].update(reason="Two sentences. Are too many."), "one sentence"),
    (lambda a: a["rules"][0]["otherwise"].update(fields=["titles"]), "only an allow or allow_limited branch"),
    (lambda a: a.update(combining="first_applicable"), "access.combining"),
])
def test_bad_access_rule_is_a_policy_error_naming_the_field(tmp_path, mutate, expected):
    with pytest.raises(PolicyError) as info:
        load_policy(_variant(tmp_path, mutate))
    assert expected in str(info.value) and "westport.yaml" in str(info.value)


def test_policy_without_access_rules_refuses_to_decide_never_falls_back(tmp_path):
    data = yaml.safe_load((ROOT / "policy/westport.yaml").read_text())
    del data["access"]
    path = tmp_path / "westport.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    loaded = load_policy(path)                       # the retention schedule alone still loads
    with pytest.raises(PolicyError, match="no access rules"):
        decide(parse_request(GOOD), loaded)
