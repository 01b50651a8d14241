"""The audit log against an attacker who can write to the store (and, later, to var/audit): the pin holds.

Each tampering is run through ``patronguard audit verify`` (the real CLI edge): it must exit non-zero,
name what is wrong, and write no new checkpoint (nor move the pin).
"""
from __future__ import annotations

import json
import shutil
import uuid

import pytest
import sqlalchemy as sa
from cli_helpers import run_cli

from patronguard.audit import (
    AuditLogTamperedError, checkpoint, checkpoint_path, load_pin, pin_path, record_event, render_board_report,
    verify_log,
)
from patronguard.audit.chain import audit_mac_key
from patronguard.audit.log import head_path
from patronguard.cli import cli as root_cli
from patronguard.cli.audit import audit as audit_group
from patronguard.store import open_store


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(root_cli.commands, "audit", audit_group)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    for i in range(5):
        record_event(s, "decision", {"outcome": "deny", "action": "disclose", "request_sha256": f"{i:064x}"})
    yield s
    s.engine.dispose()


def _sql(store, statement: str, **params) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _log_id(store) -> str:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT value FROM store_settings WHERE name = 'audit_log_id'")).scalar()


def _audit_files(tmp_path) -> dict:
    """Every file under var/ with its bytes (a refused verification must change none of them)."""
    root = tmp_path / "var"
    return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def _verify_refused(capsys, store, tmp_path, *needles: str) -> str:
    before = _audit_files(tmp_path)
    code, out, err = run_cli(capsys, "audit", "verify", "--store", str(store.engine.url))
    assert code != 0, (out, err)
    assert "intact" not in out
    for needle in needles:
        assert needle in err, (needle, err)
    assert _audit_files(tmp_path) == before, "a refused verification wrote a checkpoint, head or pin"
    assert not list(tmp_path.parent.glob("*.checkpoints.jsonl"))
    return err


# ----------------------------------------------------------------------------- untouched
def test_untouched_log_verifies_and_is_pinned(capsys, store, tmp_path):
    pin = load_pin(store.engine.url, audit_mac_key())
    assert pin is not None and pin.log_id == _log_id(store) and pin.mac_required and pin.legacy == 0
    assert pin.first["tree_size"] == 1 and pin.latest_size == 5
    assert pin_path(store.engine.url).parent == tmp_path / "var" / "keys" / "audit"
    code, out, err = run_cli(capsys, "audit", "verify", "--store", str(store.engine.url))
    assert code == 0 and "intact" in out, err
    result = verify_log(store, record=False)
    assert result.ok and result.pin_found and result.macs_checked == 5
    assert any("pin" in c and "verified" in c for c in result.checks)


# ----------------------------------------------------------------------------- store-only attacker
def test_dropped_mac_column_is_refused(capsys, store, tmp_path):
    _sql(store, "ALTER TABLE audit_events DROP COLUMN entry_mac")
    _verify_refused(capsys, store, tmp_path, "entry_mac is missing")
    with pytest.raises(AuditLogTamperedError, match="entry_mac"):
        checkpoint(store)


def test_dropped_mac_column_is_refused_when_the_store_is_reopened(capsys, store, tmp_path):
    _sql(store, "ALTER TABLE audit_events DROP COLUMN entry_mac")
    reopened = open_store(str(store.engine.url))
    try:
        result = verify_log(reopened)
        assert not result.ok and "entry_mac is missing" in result.problem and not result.mac_checking
        page = render_board_report(reopened, tmp_path / "board.html", verification=result).read_text()
        assert "does NOT verify" in page and "MACs NOT checked" in page and "entry MAC(s) verified" not in page
    finally:
        reopened.engine.dispose()


def test_a_new_audit_log_id_is_refused(capsys, store, tmp_path):
    pinned = _log_id(store)
    forged = str(uuid.uuid4())
    _sql(store, "UPDATE store_settings SET value = :v WHERE name = 'audit_log_id'", v=forged)
    _verify_refused(capsys, store, tmp_path, f"the store names audit log {forged}",
                    f"this installation's log is {pinned}", "altered or replaced")
    with pytest.raises(AuditLogTamperedError, match="altered or replaced"):
        record_event(store, "purge", {"scope": "x", "counts": {}})     # nor does the app checkpoint it


def test_a_new_audit_log_id_with_nulled_macs_is_refused(capsys, store, tmp_path):
    """The probe's attack: orphan the checkpoints, then pass all-NULL MACs off as legacy entries."""
    _sql(store, "UPDATE store_settings SET value = :v WHERE name = 'audit_log_id'", v=str(uuid.uuid4()))
    _sql(store, "UPDATE audit_events SET entry_mac = NULL")
    _verify_refused(capsys, store, tmp_path, "altered or replaced")
    result = verify_log(store, record=False)
    page = render_board_report(store, tmp_path / "board.html", verification=result).read_text()
    assert "does NOT verify" in page and "The log verifies" not in page


def test_nulled_macs_are_refused(capsys, store, tmp_path):
    _sql(store, "UPDATE audit_events SET entry_mac = NULL")
    _verify_refused(capsys, store, tmp_path, "first bad entry 1", "has no MAC", "forged")


def test_nulled_macs_are_refused_even_without_the_head_file(capsys, store, tmp_path):
    head_path(_log_id(store)).unlink()
    _sql(store, "UPDATE audit_events SET entry_mac = NULL WHERE seq >= 3")
    _verify_refused(capsys, store, tmp_path, "first bad entry 3", "has no MAC")


@pytest.mark.parametrize("bad_id", ["../../escaped", "../x", "not-a-uuid", str(uuid.uuid4()).upper() + "/.."])
def test_a_non_uuid_log_id_is_refused_and_never_used_as_a_file_name(capsys, store, tmp_path, bad_id):
    _sql(store, "UPDATE store_settings SET value = :v WHERE name = 'audit_log_id'", v=bad_id)
    _verify_refused(capsys, store, tmp_path, "not a UUID")
    with pytest.raises(AuditLogTamperedError, match="not a UUID"):
        record_event(store, "purge", {"scope": "x", "counts": {}})
    outside = [p for p in tmp_path.rglob("*") if "escaped" in p.name or p.name.startswith("x.")]
    assert outside == []
    with pytest.raises(AuditLogTamperedError, match="not a UUID"):
        checkpoint_path(bad_id)


def test_a_non_uuid_log_id_is_refused_without_a_pin(capsys, store, tmp_path):
    pin_path(store.engine.url).unlink()
    _sql(store, "UPDATE store_settings SET value = '../../escaped' WHERE name = 'audit_log_id'")
    _verify_refused(capsys, store, tmp_path, "not a UUID")


# ----------------------------------------------------------------------------- store + var/audit attacker
def test_deleted_checkpoint_file_is_named(capsys, store, tmp_path):
    log_id = _log_id(store)
    checkpoint_path(log_id).unlink()
    head_path(log_id).unlink()
    _verify_refused(capsys, store, tmp_path, "checkpoint file", "was deleted")


def test_deleted_checkpoints_and_truncation_are_named(capsys, store, tmp_path):
    log_id = _log_id(store)
    shutil.rmtree(tmp_path / "var" / "audit")
    _sql(store, "DELETE FROM audit_events WHERE seq > 3")
    err = _verify_refused(capsys, store, tmp_path, "first bad entry 4", "truncated", "was deleted")
    assert "5 entries" in err
    assert not checkpoint_path(log_id).exists()


def test_rolled_back_checkpoint_file_is_named(capsys, store, tmp_path):
    log_id = _log_id(store)
    old_checkpoints = checkpoint_path(log_id).read_text().splitlines(keepends=True)[:2]
    old_head = head_path(log_id).read_bytes()
    record_event(store, "purge", {"scope": "x", "counts": {}})
    record_event(store, "purge", {"scope": "y", "counts": {}})
    head_path(log_id).write_bytes(old_head)                                # an older, genuine head
    checkpoint_path(log_id).write_text("".join(old_checkpoints))           # older, genuine checkpoints
    _verify_refused(capsys, store, tmp_path, "ends at tree size 2", "pin records 7", "rolled back")
    _sql(store, "DELETE FROM audit_events WHERE seq > 5")                  # and hide a truncation with it
    _verify_refused(capsys, store, tmp_path, "first bad entry 6", "truncated", "rolled back")


def test_forged_checkpoint_line_is_reported_and_not_trusted(capsys, store, tmp_path):
    path = checkpoint_path(_log_id(store))
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"tree_size": 3}
    path.write_text("\n".join(lines + [json.dumps(forged)]) + "\n")
    _verify_refused(capsys, store, tmp_path, "MAC does not verify", "forged")


def test_forged_pin_is_refused(capsys, store, tmp_path):
    path = pin_path(store.engine.url)
    raw = json.loads(path.read_text())
    raw["legacy"] = 5                                                       # "all entries are legacy"
    path.write_text(json.dumps(raw))
    _sql(store, "UPDATE audit_events SET entry_mac = NULL")
    _verify_refused(capsys, store, tmp_path, "pin does not verify")


def test_the_pin_only_moves_forward_and_stays_free_of_patron_values(store):
    url = store.engine.url
    before = load_pin(url, audit_mac_key())
    record_event(store, "legal-hold-placed", {"hold_id": 1, "patron_hash": "0" * 32, "reference": "ref"})
    after = load_pin(url, audit_mac_key())
    assert after.latest_size == before.latest_size + 1 and after.first == before.first
    assert after.log_id == before.log_id and after.legacy == before.legacy
    raw = json.loads(pin_path(url).read_text())
    assert set(raw) == {"format", "store", "log_id", "mac_required", "legacy", "first", "latest", "created", "mac"}
    assert set(raw["latest"]) == {"tree_size", "root_hash", "head_hash", "at"}


def test_a_log_checkpointed_before_pins_existed_is_pinned_on_first_verification(store):
    url = store.engine.url
    pin_path(url).unlink()
    assert verify_log(store, record=False).ok and load_pin(url, audit_mac_key()) is None   # record=False writes nothing
    result = verify_log(store)
    assert result.ok and not result.pin_found
    pin = load_pin(url, audit_mac_key())
    assert pin is not None and pin.latest_size == 5 and pin.log_id == _log_id(store)
