"""Written authorizations are single-use and bound (store, scope, cutoff, mode, hold and its legal process); the
store pins the Director's key; keys come from configuration, never the working directory; every refusal says why.

Every finding of the black-box probe is a test here: a purge authorization that ran three times, a request's
authorization accepted again on a resubmitted identical request, a hold-release authorization for hold 1 of one
store releasing hold 1 of another, an attacker's ``.pub`` in the working directory, refusals that never said why.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
import threading
import time

import pytest
import sqlalchemy as sa
from cli_helpers import run_cli

from conftest import ROOT
from dbs import BACKENDS, fresh_database
from patronguard import settings
from patronguard.authz import AuthorizationKeyError, AuthorizationRefusedError, init_director_key, init_key, \
    sign_request
from patronguard.authz.keys import key_fingerprint, load_public_key
from patronguard.authz.uses import Use, use_once
from patronguard.errors import InputError
from patronguard.gateway import load_request, parse_request
from patronguard.policy import load_policy
from patronguard.store import opened_store
from patronguard.workflow import requests as wf
from patronguard.workflow.purge_request import (
    PurgeRefusedError, authorized_purge, new_purge_request, purge_request_document,
)
from patronguard.workflow.service import (
    add_evidence, decide_stored, hold_release_request, release_hold_with_authorization, submit,
)

WESTCHESTER = load_policy(ROOT / "policy/westchester.yaml")
WESTPORT = load_policy(ROOT / "policy/westport.yaml")
EXAMPLES = ROOT / "examples/requests"
UTC = dt.timezone.utc


@pytest.fixture
def director(tmp_path, monkeypatch):
    """The Director's key pair where configuration says (PATRONGUARD_VAR of this test)."""
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("PATRONGUARD_KEY_DIR", raising=False)
    monkeypatch.delenv("PATRONGUARD_DIRECTOR_PUBLIC_KEY", raising=False)
    return init_director_key()


def _sign(request, key_path, *, action=None, days=1):
    return sign_request(request, signer="director", scope=[action or request.action],
                        expires_at=dt.datetime.now(UTC) + dt.timedelta(days=days), private_key_path=key_path)


def _write(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _purge_auth(store_url, scope, director, path, *, execute=True, as_of=None):
    with opened_store(store_url) as store:
        request = parse_request(new_purge_request(store, WESTCHESTER, scope, execute=execute, as_of=as_of))
    return _write(path, _sign(request, director.private_key_path))


def _rows(store_url, sql) -> list:
    with opened_store(store_url) as store, store.engine.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def _patron(url) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        number = conn.execute(sa.text("SELECT borrowernumber FROM old_issues GROUP BY borrowernumber "
                                      "ORDER BY COUNT(*) DESC, borrowernumber LIMIT 1")).scalar()
    engine.dispose()
    return int(number)


# ----------------------------------------------------------------------------- the Director's purge
def test_a_purge_authorization_acts_once_and_a_dry_run_does_not_use_it_up(director, small_ils_sqlite_copy, tmp_path):
    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    scope = f"patron:{_patron(url)}"
    auth = _purge_auth(store_url, scope, director, tmp_path / "auth.json", execute=True)
    for _ in range(2):      # an execute authorization shows the dry run as often as asked, unused
        shown, _decision = authorized_purge(url, WESTCHESTER, scope, auth, store_url=store_url, confirm=False)
        assert shown["dry_run"] and shown["authorization"]["used_up"] is False
    done, decision = authorized_purge(url, WESTCHESTER, scope, auth, store_url=store_url, confirm=True)
    assert decision.outcome == "allow" and done["batches"] == 1 and done["authorization"]["used_up"]
    for _ in range(2):      # the probe ran one three times
        with pytest.raises(PurgeRefusedError) as refused:
            authorized_purge(url, WESTCHESTER, scope, auth, store_url=store_url, confirm=True)
        message = str(refused.value)
        assert message.startswith("purge refused: already used on ") and "one patron's reading history" in message
        assert scope.split(":")[1] not in message                   # no borrowernumber in a message
    uses = _rows(store_url, "SELECT action, purpose FROM authorization_uses")
    assert len(uses) == 1 and uses[0][0] == "purge"
    kinds = [k for (k,) in _rows(store_url, "SELECT kind FROM audit_events ORDER BY seq")]
    assert kinds.count("authorization-used") == 1 and kinds.count("purge") == 1
    assert "director-key-pinned" in kinds                           # pinned on first verified use


def test_a_dry_run_authorization_never_executes_and_is_itself_single_use(director, small_ils_sqlite_copy, tmp_path):
    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    auth = _purge_auth(store_url, "older-than:30", director, tmp_path / "auth.json", execute=False)
    with pytest.raises(PurgeRefusedError, match="signed for a dry run only"):
        authorized_purge(url, WESTCHESTER, "older-than:30", auth, store_url=store_url, confirm=True)
    shown, _ = authorized_purge(url, WESTCHESTER, "older-than:30", auth, store_url=store_url, confirm=False)
    assert shown["dry_run"] and shown["authorization"]["used_up"]
    with pytest.raises(PurgeRefusedError, match=r"already used on .* for purge older-than:30 \(dry run, cutoff"):
        authorized_purge(url, WESTCHESTER, "older-than:30", auth, store_url=store_url, confirm=False)


def test_a_purge_is_bound_to_its_cutoff_scope_and_store(director, small_ils_sqlite_copy, tmp_path):
    """An older-than:30 authorization does not keep purging newly aged data: it is good for the day it was printed."""
    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    today = dt.datetime.now(WESTCHESTER.policy.tz).date()
    yesterday = _purge_auth(store_url, "older-than:30", director, tmp_path / "y.json",
                            as_of=today - dt.timedelta(days=1))
    expected = (today - dt.timedelta(days=30)).isoformat()
    with pytest.raises(PurgeRefusedError, match=f"signed for cutoff .*, this run's cutoff is {expected}"):
        authorized_purge(url, WESTCHESTER, "older-than:30", yesterday, store_url=store_url, confirm=True)
    sixty = _purge_auth(store_url, "older-than:60", director, tmp_path / "s.json")
    with pytest.raises(PurgeRefusedError, match="signed for another scope: older-than:60, this purge is older-than:30"):
        authorized_purge(url, WESTCHESTER, "older-than:30", sixty, store_url=store_url, confirm=True)
    elsewhere = _purge_auth(f"sqlite:///{tmp_path / 'other.db'}", "older-than:30", director, tmp_path / "o.json")
    with pytest.raises(PurgeRefusedError, match="signed for another store"):
        authorized_purge(url, WESTCHESTER, "older-than:30", elsewhere, store_url=store_url, confirm=True)
    unbound = _write(tmp_path / "u.json", _sign(parse_request(purge_request_document("older-than:30")),
                                                director.private_key_path))
    with pytest.raises(PurgeRefusedError, match="not bound: the authorization names no store"):
        authorized_purge(url, WESTCHESTER, "older-than:30", unbound, store_url=store_url, confirm=True)
    assert _rows(store_url, "SELECT COUNT(*) FROM authorization_uses")[0][0] == 0     # refusals use nothing up


def test_cli_purge_refusals_are_one_line_and_json_says_why(director, small_ils_sqlite_copy, tmp_path, capsys):
    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    common = ["--db", url, "--store", store_url, "--policy", str(ROOT / "policy/westchester.yaml")]
    scope = f"patron:{_patron(url)}"
    code, out, err = run_cli(capsys, "purge", *common, "--scope", scope, "--confirm", "--print-request")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["binding"]["mode"] == "execute" and len(printed["binding"]["nonce"]) == 32
    (tmp_path / "purge.json").write_text(out)
    code, _, err = run_cli(capsys, "keys", "sign", str(tmp_path / "purge.json"), "--scope", "purge",
                           "--key", str(director.private_key_path), "--out", str(tmp_path / "auth.json"))
    assert code == 0, err
    args = [*common, "--scope", scope, "--authorization", str(tmp_path / "auth.json"), "--confirm"]
    code, out, err = run_cli(capsys, "purge", *args, "--json")
    assert code == 0, err
    assert json.loads(out)["purge"]["authorization"]["used_up"] is True
    code, out, err = run_cli(capsys, "purge", *args)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("patronguard: error: purge refused: already used on ")
    code, out, err = run_cli(capsys, "purge", *args, "--json")
    refusal = json.loads(out)
    assert code == 1 and refusal["refused"] is True and refusal["reason"].startswith("already used on ")
    assert refusal["authorization"] == {"verified": False, "reason": refusal["reason"]}
    code, out, err = run_cli(capsys, "purge", *common, "--scope", scope, "--confirm", "--json")
    assert code == 1 and json.loads(out)["reason"].startswith("no written authorization was presented")


# ----------------------------------------------------------------------------- legal holds
def _hold(store_url, borrowernumber=4211, reference="wpd-2026-014") -> int:
    with opened_store(store_url) as store:
        return wf.place_hold_now(store, borrowernumber, reason="legal process (subpoena) received",
                                 placed_by="desk-3", reference=reference)


def _release_auth(store_url, hold_id, director):
    with opened_store(store_url) as store:
        return _sign(parse_request(hold_release_request(store, hold_id)), director.private_key_path)


def test_a_hold_release_is_bound_to_its_store_hold_and_legal_process(director, tmp_path):
    one, two = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    assert _hold(one) == _hold(two) == 1
    auth = _release_auth(one, 1, director)
    with opened_store(two) as store:            # hold 1 of another store: the probe released it
        with pytest.raises(PurgeRefusedError, match="legal hold 1 not released: signed for another store"):
            release_hold_with_authorization(store, 1, WESTPORT, auth)
        assert store.active_legal_holds() == {4211}
    with opened_store(one) as store:
        second = wf.place_hold_now(store, 4212, reason="legal process (court order) received", placed_by="desk-3")
        with pytest.raises(PurgeRefusedError, match=f"signed for legal hold 1, not legal hold {second}"):
            release_hold_with_authorization(store, second, WESTPORT, auth)
        with store.engine.begin() as conn:      # the same hold id, another legal process (a rebuilt store …)
            conn.execute(sa.text("UPDATE legal_holds SET reference = 'wpd-2026-999' WHERE hold_id = 1"))
        other_process = (r"signed for another legal hold 1: one placed .*\(reference wpd-2026-014\); "
                         r"this one was placed .*\(reference wpd-2026-999\)")
        with pytest.raises(PurgeRefusedError, match=other_process):
            release_hold_with_authorization(store, 1, WESTPORT, auth)
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE legal_holds SET reference = 'wpd-2026-014' WHERE hold_id = 1"))
        decision = release_hold_with_authorization(store, 1, WESTPORT, auth)
        assert decision.allowed and store.active_legal_holds() == {4212}
    with opened_store(one) as store:
        other = _hold(one)                      # a new hold, the old authorization
        with pytest.raises(PurgeRefusedError, match=f"signed for legal hold 1, not legal hold {other}"):
            release_hold_with_authorization(store, other, WESTPORT, auth)


def _release_in_process(store_url, hold_id, authorization, barrier, results) -> None:
    """One process: open the store, wait for the other, release (a forked child: its own connections)."""
    try:
        with opened_store(store_url) as store:
            barrier.wait(60)
            release_hold_with_authorization(store, hold_id, WESTPORT, authorization)
        results.put("released")
    except (PurgeRefusedError, AuthorizationRefusedError, InputError) as exc:
        results.put(str(exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put(f"unexpected {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_releases_with_one_authorization_at_once_exactly_one_succeeds(director, tmp_path, backend):
    """Two processes release the same hold with the same authorization at the same moment: one releases, the
    other is refused (already used, or no longer active), and the use is recorded once."""
    import multiprocessing

    with fresh_database(backend, tmp_path) as store_url:
        hold_id = _hold(store_url)
        auth = _release_auth(store_url, hold_id, director)
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_release_in_process, args=(store_url, hold_id, auth, barrier, results))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=180) for _ in workers]
        for worker in workers:
            worker.join(60)
        assert outcomes.count("released") == 1, outcomes
        (refusal,) = [o for o in outcomes if o != "released"]
        assert "already used on" in refusal or "not an active hold" in refusal, refusal
        assert _rows(store_url, "SELECT COUNT(*) FROM authorization_uses")[0][0] == 1
        kinds = [k for (k,) in _rows(store_url, "SELECT kind FROM audit_events")]
        assert kinds.count("legal-hold-released") == 1 and kinds.count("authorization-used") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_use_record_admits_exactly_one_of_two_concurrent_uses(backend, tmp_path):
    """The claim itself, raced: both callers passed every check; the constraint lets one through."""
    authorization = {"signature": "c2lnbmF0dXJl", "key_id": "k" * 32, "signer": "director"}
    with fresh_database(backend, tmp_path) as store_url:
        with opened_store(store_url):
            pass                                # migrated once, before the race
        barrier, outcomes, effects = threading.Barrier(2), [], []

        def effect(conn) -> None:
            effects.append(1)
            time.sleep(0.5)                     # hold the transaction open: the other insert must wait

        def use() -> None:
            with opened_store(store_url) as store:
                barrier.wait()
                try:
                    use_once(store, Use(authorization, "purge", "purge older-than:30 (execute)", "a" * 64,
                                        nonce="b" * 32), effect, refused="purge refused")
                    outcomes.append("used")
                except AuthorizationRefusedError as exc:
                    outcomes.append(str(exc))

        threads = [threading.Thread(target=use) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert outcomes.count("used") == 1, outcomes
        (refusal,) = [o for o in outcomes if o != "used"]
        assert refusal.startswith("purge refused: already used on ")
        assert refusal.endswith("for purge older-than:30 (execute)")
        assert _rows(store_url, "SELECT COUNT(*) FROM authorization_uses")[0][0] == 1


# ----------------------------------------------------------------------------- stored requests
def test_a_requests_authorization_is_refused_on_a_resubmitted_identical_request(director, tmp_path):
    doc = dict(json.loads((EXAMPLES / "westchester-s6-emergency.json").read_text()), handled_by="director")
    signed = dict(doc, evidence={**doc["evidence"], "written_authorization":
                                 _sign(parse_request(doc), director.private_key_path)})
    with opened_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        first = submit(store, parse_request(signed), actor="director")
        assert decide_stored(store, first, WESTCHESTER, actor="director").outcome == "allow"
        assert decide_stored(store, first, WESTCHESTER, actor="director").outcome == "allow"   # the same use
        again = submit(store, parse_request(signed), actor="someone")                         # identical
        decision = decide_stored(store, again, WESTCHESTER, actor="someone")
    assert decision.outcome != "allow"
    (note,) = [e.why for e in decision.explanation if e.rule == "written_authorization"]
    assert note.startswith("not verified: already used on ") and note.endswith(f"for request {first}")


def test_an_authorization_attached_later_is_used_once_too(director, tmp_path):
    request = load_request(EXAMPLES / "westport-s4-court-order.json")
    with opened_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        ids = [submit(store, request, actor="desk-3") for _ in range(2)]
        for request_id in ids:
            updated = add_evidence(store, request_id, actor="director", counsel="advised_release")
        path = _write(tmp_path / "auth.json", _sign(updated, director.private_key_path))
        outcomes = []
        for request_id in ids:
            add_evidence(store, request_id, actor="director", authorization_path=path)
            outcomes.append(decide_stored(store, request_id, WESTPORT, actor="director").outcome)
    assert outcomes[0] == "allow" and outcomes[1] != "allow"


# ----------------------------------------------------------------------------- the Director's key
def test_a_recreated_key_is_refused_until_pinned_on_purpose(director, tmp_path, capsys):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    first = _hold(store_url)
    with opened_store(store_url) as store:
        release_hold_with_authorization(store, first, WESTPORT, _release_auth(store_url, first, director))
    code, _, err = run_cli(capsys, "keys", "init")
    assert code == 2 and "refusing to overwrite" in err and "--force" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(capsys, "keys", "init", "--force")
    assert code == 0, err
    new_fingerprint = key_fingerprint(load_public_key(director.public_key_path))
    assert stat.S_IMODE(director.private_key_path.stat().st_mode) == 0o600
    second = _hold(store_url)
    auth = _release_auth(store_url, second, director)           # signed with the new key
    with opened_store(store_url) as store:
        with pytest.raises(PurgeRefusedError) as refused:
            release_hold_with_authorization(store, second, WESTPORT, auth)
    message = str(refused.value)
    assert "not the Director's key" in message and director.fingerprint[:16] in message
    assert new_fingerprint[:16] in message and new_fingerprint != director.fingerprint
    assert "patronguard keys pin --replace" in message
    code, _, err = run_cli(capsys, "keys", "pin", "--store", store_url, "--by", "director")
    assert code == 2 and "to replace it on purpose" in err
    code, out, err = run_cli(capsys, "keys", "pin", "--store", store_url, "--by", "director", "--replace")
    assert code == 0 and "replacing the old one" in out, err
    with opened_store(store_url) as store:
        assert release_hold_with_authorization(store, second, WESTPORT, auth).allowed
        with store.engine.connect() as conn:
            pins = [json.loads(p) for (p,) in conn.execute(sa.text(
                "SELECT payload FROM audit_events WHERE kind = 'director-key-pinned' ORDER BY seq"))]
    assert [p["previous"] for p in pins] == [None, director.fingerprint]
    assert pins[1]["by"] == "director" and "--replace" in pins[1]["how"]


def test_keys_init_with_a_store_pins_at_once_and_never_replaces_silently(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    code, out, err = run_cli(capsys, "keys", "init", "--store", store_url)
    assert code == 0 and "pinned" in out, err
    before = (tmp_path / "var/keys/director/director.pub").read_bytes()
    code, _, err = run_cli(capsys, "keys", "init", "--force", "--store", store_url)
    assert code == 2 and "already pins the Director's key" in err and "keys pin --replace" in err
    assert (tmp_path / "var/keys/director/director.pub").read_bytes() == before      # nothing written


def test_the_key_location_is_configuration_never_the_working_directory(tmp_path, monkeypatch):
    """Run from a directory holding another var/keys/director/director.pub: an attacker-signed release is refused."""
    home, attacker = tmp_path / "home", tmp_path / "attacker"
    monkeypatch.setenv("PATRONGUARD_HOME", str(home))
    for variable in ("PATRONGUARD_VAR", "PATRONGUARD_KEY_DIR", "PATRONGUARD_DIRECTOR_PUBLIC_KEY"):
        monkeypatch.delenv(variable, raising=False)
    genuine = init_director_key()
    assert genuine.public_key_path == home / "var/keys/director/director.pub"
    forged = init_director_key(attacker / "var/keys/director")
    monkeypatch.chdir(attacker)
    assert settings.director_public_key_path() == home / "var/keys/director/director.pub"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    hold_id = _hold(store_url)
    with opened_store(store_url) as store:
        request = parse_request(hold_release_request(store, hold_id))
        with pytest.raises(PurgeRefusedError, match="unknown key: signed by key .* not the Director's key"):
            release_hold_with_authorization(store, hold_id, WESTPORT, _sign(request, forged.private_key_path))
        assert store.active_legal_holds() == {4211}
    monkeypatch.setenv("PATRONGUARD_VAR", "elsewhere")                 # relative: under the home, not the cwd
    assert settings.key_dir() == home / "elsewhere/keys"
    monkeypatch.setenv("PATRONGUARD_HOME", "relative/home")
    with pytest.raises(InputError, match="PATRONGUARD_HOME: .* relative path"):
        settings.var_dir()


def test_key_files_others_could_read_or_replace_are_refused(tmp_path, monkeypatch):
    from patronguard.keys import SecretKeyError, patron_hash_key

    info = init_key(tmp_path / "keys", "someone")
    info.public_key_path.chmod(0o666)
    with pytest.raises(AuthorizationKeyError, match="let others replace the key"):
        load_public_key(info.public_key_path)
    monkeypatch.delenv("PATRONGUARD_HASH_KEY", raising=False)
    monkeypatch.setenv("PATRONGUARD_KEY_DIR", str(tmp_path / "hash-keys"))
    patron_hash_key()                                            # created 0600
    key_file = tmp_path / "hash-keys" / "patron-hash.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    os.chmod(key_file, 0o644)
    with pytest.raises(SecretKeyError, match="too open"):
        patron_hash_key()
