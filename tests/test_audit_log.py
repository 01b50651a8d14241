"""The audit log as a whole: tamper tests (edit, delete, reorder, truncate, forged append), checkpoints, Board report."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from cli_helpers import run_cli
import sqlalchemy as sa

from patronguard.audit import (
    AuditLogTamperedError, AuditPayloadError, append_event, audit_mac_key, checkpoint, checkpoint_path,
    hashed_patron, merkle_root, record_event, render_board_report, verify_chain, verify_log,
)
from patronguard.audit.chain import GENESIS, canonical, canonical_fast, entry_hash, entry_mac
from patronguard.cli import cli as root_cli
from patronguard.cli.audit import audit as audit_group
from patronguard.store import open_store



@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Run the group through the real CLI edge, registered for this test only (cli/app.py owns registration)."""
    monkeypatch.setitem(root_cli.commands, "audit", audit_group)

PATRON = 987654321      # a borrowernumber that must never reach the log or the report

EVENTS = [
    ("retention-run", {"run_id": "r1", "as_of": "2026-06-30", "dry_run": False,
                       "policy": {"library": "Westport Library", "version": "2010.1"},
                       "tables": [{"table": "old_issues", "stripped": 120, "deleted": 0, "anonymised": 0}]}),
    ("request-state", {"request_id": "req-1", "state": "received", "action": "disclose",
                       "requester_role": "law_enforcement", "channel": "in_person"}),
    ("decision", {"outcome": "refer", "action": "disclose", "clauses": ["westport-4", "ct-11-25b"],
                  "obligations": ["consult_counsel"], "request_sha256": "ab" * 32, "policy_version": "2010.1"}),
    ("obligation-opened", {"obligation_id": "ob-1", "code": "consult_counsel", "request_id": "req-1"}),
    ("obligation-opened", {"obligation_id": "ob-2", "code": "requester_bears_costs", "request_id": "req-1"}),
    ("obligation-closed", {"obligation_id": "ob-2"}),
    ("legal-hold-placed", {"hold_id": 1, "patron_hash": "PATRON_HASH", "reference": "subpoena 2026-014"}),
    ("decision", {"outcome": "allow", "action": "emergency_release", "clauses": ["westchester-6"],
                  "obligations": [{"code": "consult_counsel_after"}], "request_sha256": "cd" * 32,
                  "policy_version": "2024.1"}),
    ("purge", {"scope": "director purge of search_history", "counts": {"search_history": 40, "message_queue": 2}}),
    ("decision", {"outcome": "deny", "action": "disclose", "clauses": ["westchester-5"], "obligations": [],
                  "request_sha256": "ef" * 32, "policy_version": "2024.1"}),
    ("gateway-selftest", {"note": "a kind the report does not know"}),
]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.engine.dispose()


def _fill(store, n: int = 6) -> None:
    """n events, each in its own transaction and checkpointed (as record_event does)."""
    for i in range(n):
        record_event(store, "decision", {"outcome": "deny", "action": "disclose", "clauses": ["westport-4"],
                                         "obligations": [], "request_sha256": f"{i:064x}", "policy_version": "1"})


def _sql(store, statement: str, **params) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _rows(store) -> list:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(store["audit_events"]).order_by(store["audit_events"].c.seq)))


def _rehash_from(store, start: int, *, with_key: bool) -> None:
    """What an attacker with write access to the store does: recompute the chain from ``start`` on."""
    rows = _rows(store)
    key = audit_mac_key()
    prev = rows[start - 2].entry_hash if start > 1 else GENESIS
    with store.engine.begin() as conn:
        for row in rows[start - 1:]:
            digest = entry_hash(row.seq, row.at, row.kind, row.payload, prev)
            mac = entry_mac(key, digest) if with_key else row.entry_mac
            conn.execute(sa.text("UPDATE audit_events SET prev_hash=:p, entry_hash=:h, entry_mac=:m WHERE seq=:s"),
                         {"p": prev, "h": digest, "m": mac, "s": row.seq})
            prev = digest


# ----------------------------------------------------------------------------- intact
def test_intact_log_verifies_with_rfc6962_root(store):
    _fill(store, 7)
    result = verify_log(store)
    assert result.ok and result.first_bad_seq is None and result.entries == 7
    assert result.checkpoints == 7
    assert result.root_hash == merkle_root([r.entry_hash for r in _rows(store)])
    assert verify_chain(store.engine.connect(), store["audit_events"]) is None


def test_merkle_frontier_agrees_with_the_rfc6962_definition(store):
    with store.engine.begin() as conn:
        for i in range(1, 34):
            append_event(conn, store["audit_events"], "purge", {"scope": "t", "counts": {"x": i}})
    hashes = [r.entry_hash for r in _rows(store)]
    for size in (33, 32, 31, 17, 16, 13, 8, 7, 5, 4, 3, 2, 1):
        with store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_events WHERE seq > :n"), {"n": size})
        assert verify_log(store, record=False).root_hash == merkle_root(hashes[:size]), size
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_incremental_checkpoints_match_a_full_scan(store):
    _fill(store, 3)
    with store.engine.begin() as conn:
        for i in range(5):
            append_event(conn, store["audit_events"], "purge", {"scope": "t", "counts": {"x": i}})
    cp = checkpoint(store)
    assert cp.tree_size == 8 and checkpoint(store) is None      # nothing new: no new checkpoint
    assert cp.root_hash == merkle_root([r.entry_hash for r in _rows(store)])
    assert verify_log(store).ok


@pytest.mark.parametrize("text", ["plain", 'quote " and \\ backslash', "tab\tnewline\n", "\u2028 \x00 \x1f",
                                  "été 漢字 🙂"])
def test_fast_canonical_form_is_byte_identical(text):
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 60)
    assert canonical_fast(7, at.isoformat(timespec="microseconds"), text, text, text) == \
        canonical(7, at, text, text, text)


# ----------------------------------------------------------------------------- tamper: edit
def test_edited_entry_is_named(store):
    _fill(store)
    _sql(store, "UPDATE audit_events SET payload = replace(payload, 'deny', 'allow') WHERE seq = 3")
    result = verify_log(store)
    assert not result.ok and result.first_bad_seq == 3 and "edited" in result.problem
    assert not result.recorded_checkpoint


def test_edited_time_is_named(store):
    _fill(store)
    _sql(store, "UPDATE audit_events SET at = '2020-01-01 00:00:00.000000' WHERE seq = 4")
    assert verify_log(store).first_bad_seq == 4


def test_edit_with_recomputed_chain_but_no_key_is_named(store):
    _fill(store)
    _sql(store, "UPDATE audit_events SET payload = replace(payload, 'deny', 'allow') WHERE seq = 3")
    _rehash_from(store, 3, with_key=False)
    result = verify_log(store)
    assert result.first_bad_seq == 3 and "MAC" in result.problem


def test_rewrite_by_a_key_holder_is_caught_by_the_checkpoints(store):
    _fill(store)
    _sql(store, "UPDATE audit_events SET payload = replace(payload, 'deny', 'allow') WHERE seq = 3")
    _rehash_from(store, 3, with_key=True)
    result = verify_log(store)
    assert not result.ok and result.first_bad_seq == 3 and "checkpoint" in result.problem


# ----------------------------------------------------------------------------- tamper: delete, reorder
def test_deleted_entry_is_named(store):
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq = 2")
    result = verify_log(store)
    assert result.first_bad_seq == 3 and "deleted" in result.problem


def test_deleted_and_renumbered_entry_is_named(store):
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq = 2")
    _sql(store, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 2")
    result = verify_log(store)
    assert result.first_bad_seq == 2 and "prev_hash" in result.problem


def test_reordered_entries_are_named(store):
    _fill(store)
    _sql(store, "UPDATE audit_events SET seq = 99 WHERE seq = 2")
    _sql(store, "UPDATE audit_events SET seq = 2 WHERE seq = 4")
    _sql(store, "UPDATE audit_events SET seq = 4 WHERE seq = 99")
    result = verify_log(store)
    assert result.first_bad_seq == 2 and "reordered" in result.problem


# ----------------------------------------------------------------------------- tamper: truncate
@pytest.mark.parametrize("keep", [5, 3, 0])
def test_truncated_log_is_named(store, keep):
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq > :n", n=keep)
    result = verify_log(store)
    assert not result.ok and result.first_bad_seq == keep + 1
    assert "truncated" in result.problem and "6 entries" in result.problem
    assert verify_chain(store.engine.connect(), store["audit_events"]) is None   # the chain alone cannot tell


def test_truncation_then_new_appends_is_caught(store):
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq > 4")
    with store.engine.begin() as conn:
        append_event(conn, store["audit_events"], "purge", {"scope": "cover-up", "counts": {}})
    result = verify_log(store)
    assert not result.ok and result.first_bad_seq == 5


# ----------------------------------------------------------------------------- tamper: forged append
def test_forged_append_is_named(store):
    _fill(store)
    last = _rows(store)[-1]
    at = dt.datetime(2026, 7, 1, 12, 0)
    payload = json.dumps({"outcome": "allow", "action": "disclose"})
    digest = entry_hash(7, at, "decision", payload, last.entry_hash)       # a perfect chain link
    for mac in (None, "00" * 32):
        _sql(store, "DELETE FROM audit_events WHERE seq = 7")
        _sql(store, "INSERT INTO audit_events (seq, at, kind, payload, prev_hash, entry_hash, entry_mac) "
                    "VALUES (7, :at, 'decision', :p, :prev, :h, :m)",
             at=at.strftime("%Y-%m-%d %H:%M:%S.%f"), p=payload, prev=last.entry_hash, h=digest, m=mac)
        result = verify_log(store, record=False)
        assert not result.ok and result.first_bad_seq == 7 and "forged" in result.problem, result.problem


def test_forged_or_foreign_checkpoints_are_refused(store, tmp_path):
    _fill(store, 3)
    path = checkpoint_path(verify_log(store).checkpoint_file.rsplit("/", 1)[-1].split(".")[0])
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"tree_size": 2}
    path.write_text("\n".join(lines + [json.dumps(forged)]) + "\n")
    result = verify_log(store)
    assert not result.ok and "MAC does not verify" in result.problem
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    record_event(other, "purge", {"scope": "x", "counts": {}})
    foreign = verify_log(other, checkpoints=path)
    assert not foreign.ok and "belongs to audit log" in foreign.problem
    other.engine.dispose()


def test_removed_log_identity_is_refused(store):
    _fill(store, 2)
    _sql(store, "DELETE FROM store_settings WHERE name = 'audit_log_id'")
    with pytest.raises(AuditLogTamperedError, match="audit_log_id"):
        verify_log(store)


def test_legacy_entries_without_mac_are_accepted_only_before_authenticated_ones(store):
    with store.engine.begin() as conn:
        legacy_table = sa.Table("audit_events", sa.MetaData(), *[sa.Column(c.name, c.type, primary_key=c.primary_key)
                                                                 for c in store["audit_events"].c
                                                                 if c.name != "entry_mac"])
        append_event(conn, legacy_table, "retention-run", {"run_id": "old"})
    _fill(store, 2)
    result = verify_log(store)
    assert result.ok and result.legacy_entries == 1 and any("legacy" in n for n in result.notes)
    _sql(store, "UPDATE audit_events SET entry_mac = NULL WHERE seq = 3")
    assert verify_log(store).first_bad_seq == 3


# ----------------------------------------------------------------------------- no patron values
def test_payloads_naming_a_patron_are_refused(store):
    with store.engine.begin() as conn, pytest.raises(AuditPayloadError, match="borrowernumber"):
        append_event(conn, store["audit_events"], "legal-hold-placed", {"hold_id": 1, "borrowernumber": PATRON})
    with store.engine.begin() as conn, pytest.raises(AuditPayloadError, match=r"\[0\]\.cardnumber"):
        append_event(conn, store["audit_events"], "purge", {"rows": [{"cardnumber": "21234000000001"}]})


def test_hashed_patron_is_keyed_stable_and_opaque():
    digest = hashed_patron(PATRON)
    assert digest == hashed_patron(str(PATRON)) and len(digest) == 32 and str(PATRON) not in digest
    assert digest != hashlib.blake2b(str(PATRON).encode(), digest_size=16).hexdigest()


# ----------------------------------------------------------------------------- Board report
def _fill_report(store) -> None:
    for kind, payload in EVENTS:
        if payload.get("patron_hash") == "PATRON_HASH":
            payload = payload | {"patron_hash": hashed_patron(PATRON)}
        record_event(store, kind, payload)


def test_board_report_has_every_section_and_no_patron_value(store, tmp_path):
    _fill_report(store)
    out = render_board_report(store, tmp_path / "board.html")
    page = out.read_text()
    for section in ("integrity", "events", "decisions", "clauses", "law-enforcement", "emergencies", "obligations",
                    "holds", "purges", "retention", "other"):
        assert f'id="{section}"' in page, section
    assert "The log verifies" in page
    assert "westport-4" in page and "westchester-6" in page and "Referred</abbr>: 1" in page    # outcomes as words
    assert "consult_counsel" in page and "requester_bears_costs" not in page       # closed obligations go
    assert "subpoena 2026-014" in page and "gateway-selftest" in page
    assert str(PATRON) not in page and hashed_patron(PATRON) not in page     # the hash is shortened too
    assert "<script" not in page and "http://" not in page and "https://" not in page and "src=" not in page
    law = page[page.index('id="law-enforcement"'):page.index('id="emergencies"')]
    assert "request received" in law and "refer" in law
    emergencies = page[page.index('id="emergencies"'):page.index('id="requests"')]
    assert "emergency_release" in emergencies


def test_board_report_says_when_the_log_does_not_verify(store, tmp_path):
    _fill_report(store)
    _sql(store, "DELETE FROM audit_events WHERE seq > 8")
    page = render_board_report(store, tmp_path / "board.html").read_text()
    assert "does NOT verify" in page and "first bad entry 9" in page


# ----------------------------------------------------------------------------- CLI


def test_cli_verify_and_report(capsys, store, tmp_path):
    url = str(store.engine.url)
    _fill(store)
    code, out, _ = run_cli(capsys, "audit", "verify", "--store", url)
    assert code == 0 and "intact" in out
    code, out, _ = run_cli(capsys, "audit", "report", "--store", url, "--out", str(tmp_path / "r.html"))
    assert code == 0 and (tmp_path / "r.html").exists()
    _sql(store, "DELETE FROM audit_events WHERE seq = 6")
    code, _, err = run_cli(capsys, "audit", "verify", "--store", url)
    assert code == 1 and "first bad entry 6" in err and "truncated" in err
    assert len([line for line in err.splitlines() if line.startswith("patronguard:")]) == 1


def test_every_audit_command_has_an_example():
    for command in audit_group.commands.values():
        assert "Example:" in (command.help or ""), command.name


# ----------------------------------------------------------------------------- every backend
def test_tamper_detection_on_every_backend(empty_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    s = open_store(empty_db_url)
    try:
        _fill(s, 5)
        assert verify_log(s).ok
        _sql(s, "UPDATE audit_events SET kind = 'purge' WHERE seq = 2")
        assert verify_log(s).first_bad_seq == 2
        _sql(s, "UPDATE audit_events SET kind = 'decision' WHERE seq = 2")
        _sql(s, "DELETE FROM audit_events WHERE seq > 3")
        result = verify_log(s)
        assert result.first_bad_seq == 4 and "truncated" in result.problem
    finally:
        s.engine.dispose()


def test_the_head_file_alone_still_catches_truncation_and_a_forged_head_is_ignored(store):
    from patronguard.audit.log import head_path

    _fill(store, 4)
    log_id = verify_log(store).checkpoint_file.rsplit("/", 1)[-1].split(".")[0]
    raw = json.loads(head_path(log_id).read_text())
    raw["checkpoint"]["tree_size"] = 2                    # roll the head back without the key
    head_path(log_id).write_text(json.dumps(raw))
    with store.engine.begin() as conn:                    # a genuine append; checkpoint() re-reads the log
        append_event(conn, store["audit_events"], "purge", {"scope": "t", "counts": {}})
    assert checkpoint(store).tree_size == 5
    checkpoint_path(log_id).unlink()                      # history lost; the head (and the pin) remain
    _sql(store, "DELETE FROM audit_events WHERE seq = 5")
    result = verify_log(store)
    assert result.first_bad_seq == 5 and "truncated" in result.problem and "deleted" in result.problem
    # (changed with the pin: truncation then a new append is now caught even with the checkpoint file gone)
    with store.engine.begin() as conn:
        append_event(conn, store["audit_events"], "purge", {"scope": "cover-up", "counts": {}})
    assert checkpoint(store) is None                      # the fast path trusts the genuine head; verify does not
    result = verify_log(store)
    assert not result.ok and "rewritten" in result.problem and "deleted" in result.problem
    assert not result.recorded_checkpoint and not checkpoint_path(log_id).exists()
