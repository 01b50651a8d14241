"""The audit log against an attacker who can roll back everything on this machine: the Prefect witness holds.

Tree heads are published through the real task (``publish-audit-tree-head``) in real flow runs on the
test Prefect API; ``patronguard audit verify`` (the CLI edge) reads them back from the artifact history.
"""
from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa
from cli_helpers import run_cli

from conftest import ROOT, SMALL_SPEC
from patronguard.audit import TreeHead, checkpoint_path, load_pin, pin_path, record_event, verify_log
from patronguard.audit.chain import audit_mac_key
from patronguard.audit.prefect_witness import ARTIFACT_KEY, PrefectWitness, prefect_api_url
from patronguard.audit.witness_check import WitnessCheck
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
    _events(s, 5)
    yield s
    s.engine.dispose()


def _events(store, n: int) -> None:
    for i in range(n):
        record_event(store, "decision", {"outcome": "deny", "action": "disclose", "request_sha256": f"{i:064x}"})


def _publish(store) -> dict | None:
    """Publish the tree head as every flow does at its end: the real task, in a real flow run."""
    from prefect import flow

    from tasks.audit import publish_audit_tree_head

    @flow(name="publish-audit-head-test", persist_result=False)
    def publishing(url: str):
        return publish_audit_tree_head(url)

    return publishing(str(store.engine.url))


def _sql(store, statement: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement))


def _log_id(store) -> str:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT value FROM store_settings WHERE name = 'audit_log_id'")).scalar()


def _files(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def _snapshot(tmp_path) -> dict:
    """Everything an attacker with write access to var/ (checkpoints, head file, pin) could put back."""
    return _files(tmp_path / "var")


def _restore(tmp_path, snapshot: dict) -> None:
    var = tmp_path / "var"
    for sub in ("audit", "keys"):
        shutil.rmtree(var / sub, ignore_errors=True)
    for name, data in snapshot.items():
        (var / name).parent.mkdir(parents=True, exist_ok=True)
        (var / name).write_bytes(data)


def _verify(capsys, store, *extra):
    return run_cli(capsys, "audit", "verify", "--store", str(store.engine.url), *extra)


def _ours(store) -> list:
    """The heads the Prefect witness holds for this store's log."""
    log_id = _log_id(store)
    return [p for p in PrefectWitness(prefect_api_url()).heads() if p.head is not None and p.log_id == log_id]


# ----------------------------------------------------------------------------- publishing
def test_the_task_publishes_the_tree_head_as_an_artifact_without_patron_values(prefect_harness, store):
    record = _publish(store)
    pin = load_pin(store.engine.url, audit_mac_key())
    assert record["tree_size"] == 5 and record["root_hash"] == pin.latest["root_hash"]
    assert record["log_id"] == _log_id(store) and record["pin"] == pin.created
    held = _ours(store)
    assert [p.head.record() for p in held] == [record]
    assert set(record) == {"format", "log_id", "tree_size", "root_hash", "head_hash", "at", "store", "pin", "mac"}
    assert held[0].head.authentic(audit_mac_key()) and held[0].when


def test_the_nightly_flow_publishes_the_tree_head(prefect_harness, small_ils_sqlite_copy, store, tmp_path,
                                                  monkeypatch):
    from flows.nightly_retention import nightly_retention

    monkeypatch.setenv("PATRONGUARD_ILS_URL", f"sqlite:///{small_ils_sqlite_copy}")
    monkeypatch.setenv("PATRONGUARD_STORE_URL", str(store.engine.url))
    nightly_retention(policy_path=str(ROOT / "policy/westchester.yaml"), as_of=SMALL_SPEC["until"].isoformat(),
                      report_dir=str(tmp_path / "reports"), dry_run=True)
    held = _ours(store)
    assert [p.head.tree_size for p in held] == [5]


def test_an_empty_log_publishes_nothing(prefect_harness, tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    empty = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert _publish(empty) is None and _ours(empty) == []
    finally:
        empty.engine.dispose()


# ----------------------------------------------------------------------------- intact
def test_an_intact_log_is_checked_against_the_witness_and_says_so(prefect_harness, capsys, store, monkeypatch):
    import patronguard.audit.prefect_witness as pw

    monkeypatch.setattr(pw, "PAGE", 1)                 # the history is read page by page, every page
    _publish(store)
    _events(store, 2)
    _publish(store)
    code, out, err = _verify(capsys, store)
    assert code == 0 and "audit log intact" in out, err
    assert "witnesses checked: Prefect witness" in out and "consistent (2 tree head(s))" in out
    assert "checked: Prefect witness (artifact history 'audit-tree-head' at http" in err
    assert "2 published tree head(s) checked, all consistent with the log" in err
    code, out, err = _verify(capsys, store, "--json", "--require-witness")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] and doc["entries"] == 7
    [witness] = doc["witnesses"]
    assert witness["checked"] and witness["consistent"] and witness["status"] == "consistent"
    assert witness["heads_checked"] == 2 and witness["latest"]["tree_size"] == 7 and witness["problems"] == []
    assert any(c.startswith("Prefect witness") for c in doc["checks"])


def test_the_board_report_lists_the_witness_check(prefect_harness, capsys, store, tmp_path):
    _publish(store)
    code, out, err = run_cli(capsys, "audit", "report", "--store", str(store.engine.url),
                             "--out", str(tmp_path / "board.html"))
    assert code == 0, err
    page = (tmp_path / "board.html").read_text()
    assert "Prefect witness" in page and "all consistent with the log" in page


# ----------------------------------------------------------------------------- store + var attacker
def test_rolled_back_checkpoints_and_pin_with_a_truncated_log_are_caught_by_the_witness(
        prefect_harness, capsys, store, tmp_path):
    """Store, var/audit and var/keys all rolled back to an earlier, genuine state: only the witness remembers."""
    _publish(store)                                                    # tree size 5
    earlier = _snapshot(tmp_path)
    _events(store, 2)
    _publish(store)                                                    # tree size 7
    _restore(tmp_path, earlier)                                        # checkpoint file, head file and pin at 5
    _sql(store, "DELETE FROM audit_events WHERE seq > 5")              # and the two entries gone
    assert verify_log(store, record=False).ok, "without the witness the rollback is invisible"
    before = _files(tmp_path / "var")
    code, out, err = _verify(capsys, store)
    assert code == 1 and "intact" not in out
    assert "first bad entry 6" in err and "Prefect witness" in err
    assert "truncated or rolled back" in err and "records 7 entries" in err and "ends at entry 5" in err
    assert _files(tmp_path / "var") == before, "a refused verification wrote a checkpoint, head or pin"
    code, out, _ = _verify(capsys, store, "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and doc["first_bad_seq"] == 6
    [witness] = doc["witnesses"]
    assert witness["status"] == "NOT consistent" and witness["checked"] and not witness["consistent"]
    assert any("entries 6–7 were removed" in p for p in witness["problems"])


def test_rolled_back_checkpoint_files_and_truncation_are_named_by_pin_and_witness(
        prefect_harness, capsys, store, tmp_path):
    """The issue's case: checkpoint files rolled back, log truncated; the pin is intact."""
    log_id = _log_id(store)
    _publish(store)
    old_checkpoints = checkpoint_path(log_id).read_bytes()
    _events(store, 2)
    _publish(store)
    checkpoint_path(log_id).write_bytes(old_checkpoints)
    (checkpoint_path(log_id).parent / f"{log_id}.head.json").unlink()
    _sql(store, "DELETE FROM audit_events WHERE seq > 5")
    code, out, err = _verify(capsys, store)
    assert code == 1
    assert "rolled back" in err and "pin records 7" in err                          # the pin
    assert "Prefect witness" in err and "records 7 entries" in err                  # and the witness


def test_a_deleted_pin_is_caught_by_the_witness(prefect_harness, capsys, store, tmp_path):
    _publish(store)
    pin_path(store.engine.url).unlink()
    before = _files(tmp_path / "var")
    code, out, err = _verify(capsys, store)
    assert code == 1 and "there is no pin" in err and "the pin was deleted" in err
    assert _files(tmp_path / "var") == before


def test_a_rewritten_prefix_is_caught_by_the_witness(prefect_harness, capsys, store):
    """A head the log's first N entries no longer give (the log replaced under the same id, with the key)."""
    genuine = TreeHead.from_record(_publish(store))
    other = TreeHead(**(genuine.__dict__ | {"tree_size": 3, "root_hash": "ab" * 32, "mac": ""}))
    signed = TreeHead(**(other.__dict__ | {"mac": other.expected_mac(audit_mac_key())}))
    PrefectWitness(prefect_api_url()).publish(signed)
    code, out, err = _verify(capsys, store)
    assert code == 1 and "first 3 entries do not match the tree head" in err and "rewritten" in err


def test_a_forged_witness_record_is_reported(prefect_harness, capsys, store):
    genuine = TreeHead.from_record(_publish(store))
    PrefectWitness(prefect_api_url()).publish(TreeHead(**(genuine.__dict__ | {"tree_size": 9})))   # stale MAC
    code, out, err = _verify(capsys, store)
    assert code == 1 and "MAC does not verify" in err and "forged record" in err


def test_other_records_under_the_key_and_other_stores_heads_are_ignored(prefect_harness, capsys, store, tmp_path):
    from prefect import flow
    from prefect.artifacts import create_markdown_artifact

    @flow(name="unrelated-artifact-test", persist_result=False)
    def unrelated():
        create_markdown_artifact(markdown="# not a tree head", key=ARTIFACT_KEY)

    unrelated()
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        _events(other, 3)
        _publish(other)
    finally:
        other.engine.dispose()
    _publish(store)
    code, out, err = _verify(capsys, store, "--json")
    assert code == 0, err
    [witness] = json.loads(out)["witnesses"]
    assert witness["consistent"] and witness["heads_checked"] == 1
    assert witness["records_ignored"] >= 1 and witness["heads_other_logs"] >= 1


# ----------------------------------------------------------------------------- no witness
def test_no_prefect_api_configured_is_said_and_no_server_is_started(capsys, store, tmp_path, monkeypatch):
    import patronguard.audit.prefect_witness as pw

    monkeypatch.setattr(pw, "prefect_api_url", lambda: None)
    monkeypatch.setattr(pw.PrefectWitness, "heads", lambda self: pytest.fail("read an unconfigured witness"))
    code, out, err = _verify(capsys, store)
    assert code == 0 and "intact" in out
    assert "note: Prefect witness: not configured" in err
    assert "witnesses checked: none (Prefect witness: not configured)" in out
    before = _files(tmp_path / "var")
    code, out, err = _verify(capsys, store, "--require-witness")
    assert code == 1 and "no external witness could be read" in err and "not configured" in err
    assert _files(tmp_path / "var") == before


def test_an_unreachable_prefect_api_is_reported_not_trusted(capsys, store, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        code, out, err = _verify(capsys, store, "--json")
        assert code == 0, err
        [witness] = json.loads(out)["witnesses"]
        assert witness["status"] == "unreachable" and not witness["checked"] and "127.0.0.1:9" in witness["witness"]
        code, out, err = _verify(capsys, store, "--require-witness")
        assert code == 1 and "unreachable" in err


def test_every_head_of_a_long_history_is_checked(store):
    """A witness holding hundreds of heads (a year of nights): every one is compared, in one pass over the log."""
    from patronguard.audit import PublishedHead, current_tree_head

    head = current_tree_head(store)

    class Many:
        name = "many"

        def heads(self):
            return [PublishedHead(head, f"2026-01-01T00:00:{i:06d}") for i in range(450)]

    check = WitnessCheck([Many()]).fetch()
    result = verify_log(store, record=False, witness_check=check)
    assert result.ok and check.reports[0].heads_checked == 450


def test_a_witness_read_but_not_compared_says_so(prefect_harness, capsys, store):
    """The store names another log: the verification stops at the pin; the witness is listed as not compared."""
    import uuid

    _publish(store)
    _sql(store, f"UPDATE store_settings SET value = '{uuid.uuid4()}' WHERE name = 'audit_log_id'")
    code, out, err = _verify(capsys, store, "--json")
    assert code == 1 and "altered or replaced" in err
    [witness] = json.loads(out)["witnesses"]
    assert witness["status"] == "not compared" and not witness["checked"] and "stopped before" in witness["reason"]
    code, out, err = _verify(capsys, store)
    assert "note: Prefect witness" in err and "not compared" in err
