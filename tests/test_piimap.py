"""The PII map classifies every table and column of the Koha-shaped schema."""
from __future__ import annotations

import pytest
import yaml

from patronguard.errors import PiiMapError
from patronguard.ils.piimap import BUILTIN_MAPS, builtin_pii_map, load_pii_map
from patronguard.ils.schema import metadata
from patronguard.policy import load_policy

PATRON_ROLES = {"link", "identity", "quasi", "free_text", "staff"}


def test_every_schema_table_is_in_the_pii_map():
    pii_map = builtin_pii_map()
    assert sorted(metadata.tables) == sorted(pii_map.tables)


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_every_column_that_can_hold_patron_data_is_classified(table):
    mapped = builtin_pii_map().tables[table].columns
    unclassified = [c.name for c in metadata.tables[table].c if c.name not in mapped]
    assert unclassified == [], f"{table}: classify {unclassified} in patronguard/ils/koha.yaml"


def test_tables_with_patron_links_carry_a_category_and_an_age():
    for name, table in builtin_pii_map().tables.items():
        links = table.columns_with("link")
        if table.lifecycle == "reference":
            assert not links, f"{name} links to patrons but is mapped as reference"
            continue
        assert table.category in ("a", "b", "c")
        assert table.link in links
        assert table.age


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
