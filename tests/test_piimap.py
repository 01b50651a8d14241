"""The PII map classifies every table and column of every supported Koha release line."""
from __future__ import annotations

import pytest
import yaml

from patronguard.errors import PiiMapError
from patronguard.ils.piimap import BUILTIN_MAPS, builtin_pii_map, load_pii_map
from patronguard.ils.release import koha_lines, supported_lines
from patronguard.policy import load_policy

PATRON_ROLES = {"link", "identity", "quasi", "free_text", "staff"}


@pytest.mark.parametrize("line", supported_lines())
def test_every_table_and_column_of_every_line_is_classified(line):
    """Every table the facts record for the line, and each of its columns, is in the PII map."""
    tables = builtin_pii_map().tables
    missing = []
    for name, table in koha_lines().lines[line].tables.items():
        if name not in tables:
            missing.append(f"{name} (table)")
            continue
        missing += [f"{name}.{column}" for column in table.columns if column not in tables[name].columns]
    assert missing == [], f"Koha {line}: classify {', '.join(missing)} in patronguard/ils/koha.yaml"


def test_every_mapped_table_is_in_some_line():
    known = {name for facts in koha_lines().lines.values() for name in facts.tables}
    assert sorted(set(builtin_pii_map().tables) - known) == []


def test_tables_every_line_has_are_not_optional():
    """A table some supported line lacks must be optional (or ``ils check`` refuses that line)."""
    everywhere = set.intersection(*(set(f.tables) for f in koha_lines().lines.values()))
    for name, table in builtin_pii_map().tables.items():
        if not table.optional:
            assert name in everywhere, f"{name} is not in every line: mark it optional in koha.yaml"


def test_tables_with_patron_links_carry_a_category_and_an_age():
    for name, table in builtin_pii_map().tables.items():
        links = table.columns_with("link")
        if table.lifecycle == "reference":
            assert not links, f"{name} links to patrons but is mapped as reference"
            continue
        assert table.category in ("a", "b", "c")
        if table.lifecycle == "child":  # belongs to a parent row; its own link (if any) is optional
            assert table.parent is not None
            continue
        assert table.link in links or table.columns[table.link].role == "pseudonym"
        if table.lifecycle in ("history", "identity", "active"):
            assert table.age, f"{name} ages under the schedule, so it needs an age"


def test_known_koha_leaks_are_governed():
    """DESIGN.md's list of places Koha's own anonymisation misses."""
    scheduled = builtin_pii_map().scheduled_tables()
    for table in ("statistics", "accountlines", "items_last_borrower", "action_logs", "message_queue",
                  "borrower_modifications", "deletedborrowers", "search_history", "old_issues", "old_reserves"):
        assert table in scheduled
    assert builtin_pii_map().tables["old_issues"].columns["note"].role == "free_text"
    assert builtin_pii_map().tables["old_reserves"].columns["reservenotes"].role == "free_text"


def _write_map(tmp_path, mutate):
    data = yaml.safe_load(BUILTIN_MAPS["koha"].read_text())
    mutate(data)
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["tables"]["accountlines"]["columns"].update(note="secret"), "tables.accountlines.columns.note.role"),
    (lambda d: d["tables"]["old_issues"].update(category="d"), "tables.old_issues.category"),
    (lambda d: d["tables"]["old_issues"].update(colour="red"), "unknown field"),
    (lambda d: d["tables"]["old_issues"].update(age="when"), "age column 'when'"),
    (lambda d: d["tables"]["old_issues"]["exemptions"].append({"kind": "patron_keeps_history", "via": "row"}),
     "cannot be checked via 'row'"),
    (lambda d: d["tables"]["old_issues"].update(records="loans"), "not declared under record_classes"),
])
def test_malformed_pii_map_names_the_field(tmp_path, mutate, expected):
    path = _write_map(tmp_path, mutate)
    with pytest.raises(PiiMapError) as err:
        load_pii_map(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_policies_cover_every_record_class_of_the_map():
    classes = set(builtin_pii_map().record_classes)
    for path in ("policy/westchester.yaml", "policy/westport.yaml"):
        loaded = load_policy(path)
        assert {r.records for r in loaded.policy.retention.schedule} == classes
