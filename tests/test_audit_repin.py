"""``patronguard audit repin``: a deliberate, audited re-pin after a real restore or replacement of the store.

Also the witness's pin rules (heads of an earlier pin superseded only by a re-pin; a later pin's heads mean the
pin was rolled back), with in-memory witnesses.
"""
from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa
from cli_helpers import run_cli

from patronguard.audit import (
    PublishedHead, TreeHead, append_event, current_tree_head, load_pin, record_event, verify_log,
)
from patronguard.audit.chain import audit_mac_key
from patronguard.audit.log import checkpoint_path
from patronguard.audit.witness_check import WitnessCheck
from patronguard.cli import cli as root_cli
from patronguard.cli.audit import audit as audit_group
from patronguard.store import open_store

REASON = "store restored from the 2026-03-01 backup after a disk failure (ticket 4411)"


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(root_cli.commands, "audit", audit_group)


@pytest.fixture(autouse=True)
def _no_prefect(monkeypatch, request):
    """Without the Prefect harness, no witness is configured (never an accidental ephemeral server)."""
    if "prefect_harness" not in request.fixturenames:
        import patronguard.audit.prefect_witness as pw

        monkeypatch.setattr(pw, "prefect_api_url", lambda: None)


@pytest.fixture
def url(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    return f"sqlite:///{tmp_path / 'store.db'}"


def _with_store(url, fn):
    store = open_store(url)
    try:
        return fn(store)
    finally:
        store.engine.dispose()


def _events(url, n: int, start: int = 0) -> None:
    def add(store):
        for i in range(start, start + n):
            record_event(store, "decision", {"outcome": "deny", "action": "disclose", "request_sha256": f"{i:064x}"})
    _with_store(url, add)


def _rows(url) -> list:
    def read(store):
        with store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("SELECT seq, kind, payload FROM audit_events ORDER BY seq"))]
    return _with_store(url, read)


def _sql(url, statement: str) -> None:
    def run(store):
        with store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    _with_store(url, run)


def _files(tmp_path) -> dict:
    return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted((tmp_path / "var").rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def _restore_backup(tmp_path, backup) -> None:
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"store.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, tmp_path / "store.db")


def _restored_store(url, tmp_path) -> None:
    """5 events, a backup, 3 more events, then the backup restored: the store's log went back to 5."""
    _events(url, 5)
    shutil.copyfile(tmp_path / "store.db", tmp_path / "backup.db")
    _events(url, 3, start=5)
    _restore_backup(tmp_path, tmp_path / "backup.db")


def _verify(capsys, url, *extra):
    return run_cli(capsys, "audit", "verify", "--store", url, *extra)


def _repin(capsys, url, *extra):
    return run_cli(capsys, "audit", "repin", "--store", url, *extra)


# ----------------------------------------------------------------------------- refusals
def test_repin_requires_a_reason(capsys, url):
    _events(url, 2)
    code, _, err = _repin(capsys, url, "--yes")
    assert code == 2 and "--reason" in err
    code, _, err = _repin(capsys, url, "--reason", "   ", "--yes")
    assert code == 2 and "--reason" in err and "say why" in err


def test_repin_without_yes_shows_the_pins_and_writes_nothing(capsys, url, tmp_path):
    _restored_store(url, tmp_path)
    files, rows = _files(tmp_path), _rows(url)
    code, out, err = _repin(capsys, url, "--reason", REASON)
    assert code == 2 and "not re-pinned: nothing was written" in err and "--yes" in err
    assert "old pin: log " in out and "tree size 8" in out and "would pin log" in out and "tree size 6" in out
    assert _files(tmp_path) == files and _rows(url) == rows


def test_repin_refuses_a_forged_log_and_writes_nothing(capsys, url, tmp_path):
    _events(url, 5)
    _sql(url, "UPDATE audit_events SET entry_mac = NULL WHERE seq >= 3")
    files, rows = _files(tmp_path), _rows(url)
    code, out, err = _repin(capsys, url, "--reason", REASON, "--yes")
    assert code == 1 and "not re-pinned: the log itself does not verify" in err and "first bad entry 3" in err
    assert _files(tmp_path) == files and _rows(url) == rows


# ----------------------------------------------------------------------------- restore and replace
def test_a_restored_store_is_repinned_audited_and_then_verifies(capsys, url, tmp_path):
    _restored_store(url, tmp_path)
    code, out, err = _verify(capsys, url)
    assert code == 1 and "truncated" in err and "recorded 8 entries" in err    # what the operator sees
    old = _with_store(url, lambda s: load_pin(s.engine.url, audit_mac_key()))
    code, out, err = _repin(capsys, url, "--reason", REASON, "--yes")
    assert code == 0, err
    assert "re-pinned the audit log" in out
    assert f"old pin: log {old.log_id}, tree size 8" in out and f"new pin: log {old.log_id}, tree size 6" in out
    assert "audit event: entry 6 (audit-repinned)" in out and REASON in out
    assert "kept aside:" in out and ".checkpoints.jsonl.superseded-" in out
    assert "witness: Prefect witness: not configured" in out
    seq, kind, payload = _rows(url)[-1]
    payload = json.loads(payload)
    assert (seq, kind, payload["reason"]) == (6, "audit-repinned", REASON)
    assert payload["previous_pin"]["tree_size"] == 8 and payload["tree_size_before"] == 5
    pin = _with_store(url, lambda s: load_pin(s.engine.url, audit_mac_key()))
    assert pin.repin["reason"] == REASON and pin.repin["previous"]["tree_size"] == 8 and pin.repin["entry"] == 6
    assert pin.latest_size == 6 and pin.created == pin.repin["at"] and pin.created > old.created
    code, out, err = _verify(capsys, url)
    assert code == 0 and "audit log intact: 6 entries" in out, err
    _events(url, 1, start=100)                                      # and the log carries on
    code, out, err = _verify(capsys, url)
    assert code == 0 and "7 entries" in out, err
    code, out, err = run_cli(capsys, "audit", "report", "--store", url, "--out", str(tmp_path / "board.html"))
    page = (tmp_path / "board.html").read_text()
    assert code == 0 and "Re-pins of the audit log" in page and "disk failure" in page


def test_a_replaced_store_is_repinned(capsys, url, tmp_path):
    _events(url, 4)
    old = _with_store(url, lambda s: load_pin(s.engine.url, audit_mac_key()))
    (tmp_path / "store.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"store.db{suffix}").unlink(missing_ok=True)

    def fresh(store):                                   # a new store: a new log id, two events (not checkpointed)
        for i in range(2):
            with store.engine.begin() as conn:
                append_event(conn, store["audit_events"], "decision", {"outcome": "allow", "n": i})
    _with_store(url, fresh)
    code, out, err = _verify(capsys, url)
    assert code == 1 and "altered or replaced" in err
    code, out, err = _repin(capsys, url, "--reason", "store replaced by a new database on the new server", "--yes")
    assert code == 0, err
    pin = _with_store(url, lambda s: load_pin(s.engine.url, audit_mac_key()))
    assert pin.log_id != old.log_id and pin.repin["previous"]["log_id"] == old.log_id and pin.latest_size == 3
    assert checkpoint_path(old.log_id).exists(), "the old log's checkpoints are left alone"
    code, out, err = _verify(capsys, url)
    assert code == 0 and "intact: 3 entries" in out, err


# ----------------------------------------------------------------------------- with the Prefect witness
def test_heads_published_before_a_repin_are_superseded(prefect_harness, capsys, url, tmp_path):
    from prefect import flow

    from tasks.audit import publish_audit_tree_head

    @flow(name="publish-audit-head-test", persist_result=False)
    def publishing(store_url: str):
        return publish_audit_tree_head(store_url)

    _events(url, 5)
    publishing(url)
    shutil.copyfile(tmp_path / "store.db", tmp_path / "backup.db")
    _events(url, 3, start=5)
    publishing(url)
    _restore_backup(tmp_path, tmp_path / "backup.db")
    code, out, err = _verify(capsys, url)
    assert code == 1 and "Prefect witness" in err and "records 8 entries" in err
    code, out, err = _repin(capsys, url, "--reason", REASON, "--yes")
    assert code == 0, err
    assert "witness: Prefect witness" in out and "published tree size 6" in out
    code, out, err = _verify(capsys, url, "--json")
    assert code == 0, err
    [witness] = json.loads(out)["witnesses"]
    assert witness["consistent"] and witness["heads_checked"] == 1 and witness["heads_superseded"] == 2
    assert witness["latest"]["tree_size"] == 6


# ----------------------------------------------------------------------------- the pin rules, in memory
class _Held:
    name = "in-memory witness"

    def __init__(self, *heads):
        self._heads = [PublishedHead(h, f"2026-01-01T00:00:0{i}") for i, h in enumerate(heads)]

    def heads(self):
        return self._heads


def _signed(head: TreeHead, **changes) -> TreeHead:
    unsigned = TreeHead(**(head.__dict__ | changes | {"mac": ""}))
    return TreeHead(**(unsigned.__dict__ | {"mac": unsigned.expected_mac(audit_mac_key())}))


def _check(url, *heads):
    check = WitnessCheck([_Held(*heads)]).fetch()
    result = _with_store(url, lambda s: verify_log(s, record=False, witness_check=check))
    return result, check.reports[0]


def test_a_head_of_a_later_pin_means_the_pin_was_rolled_back(url):
    _events(url, 3)
    head = _with_store(url, current_tree_head)
    result, report = _check(url, head, _signed(head, pin="9999-01-01T00:00:00.000000Z"))
    assert not result.ok and report.status == "NOT consistent"
    assert any("the pin was rolled back to an older copy" in p for p in report.problems)


def test_a_head_of_an_earlier_pin_without_a_repin_means_the_pin_was_recreated(url):
    _events(url, 3)
    head = _with_store(url, current_tree_head)
    result, report = _check(url, _signed(head, pin="2000-01-01T00:00:00.000000Z"))
    assert not result.ok and any("deleted and re-created" in p and "audit repin" in p for p in report.problems)


def test_a_head_of_another_log_of_this_store_means_the_log_was_replaced(url):
    _events(url, 3)
    head = _with_store(url, current_tree_head)
    result, report = _check(url, _signed(head, log_id="00000000-0000-4000-8000-000000000000"))
    assert not result.ok and any("the store's log was replaced" in p for p in report.problems)


def test_a_consistent_in_memory_witness_passes(url):
    _events(url, 3)
    head = _with_store(url, current_tree_head)
    _events(url, 2, start=3)
    result, report = _check(url, head, _with_store(url, current_tree_head))
    assert result.ok and report.consistent and report.heads_checked == 2
    assert any(c.startswith("in-memory witness: 2 published tree head(s) checked") for c in result.checks)
