"""Written authorizations: real Ed25519 keys and signatures; every refusal names its reason."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import stat
from functools import partial

import pytest
from cli_helpers import run_cli

from patronguard.authz import (
    AuthorizationKeyError, init_director_key, init_key, request_file_sha256, sign_authorization, sign_delegation,
    verify_authorization,
)
from patronguard.cli import cli as root_cli
from patronguard.cli.keys import keys as keys_group
from patronguard.errors import InputError
from patronguard.gateway import parse_request, request_sha256

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
REQUEST = {"request_id": "wpd-2026-014", "action": "law_enforcement_request",
           "requester": {"role": "law_enforcement", "id": "wpd-case-0193"}, "subject": {"borrowernumber": 4211},
           "channel": "written", "fields": ["loan_history"],
           "evidence": {"legal_process": "subpoena", "counsel_review": "advised_release"}}
REQ = request_sha256(parse_request(REQUEST))
OTHER = request_sha256(parse_request(REQUEST | {"request_id": "wpd-2026-015"}))



@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Run the group through the real CLI edge, registered for this test only (cli/app.py owns registration)."""
    monkeypatch.setitem(root_cli.commands, "keys", keys_group)


@pytest.fixture
def keyring(tmp_path):
    director = init_director_key(tmp_path / "director")
    deputy = init_key(tmp_path / "designees", "deputy")
    intruder = init_key(tmp_path / "elsewhere", "intruder")
    return {"director": director, "deputy": deputy, "intruder": intruder, "dir": tmp_path}


def _verify(keyring, doc, request=REQ, now=NOW, action=None):
    return verify_authorization(doc, request, now, director_public_key_path=keyring["director"].public_key_path,
                                action=action)


def _director_auth(keyring, **over):
    args = dict(signer="director", scope=["disclose"], expires_at=NOW + dt.timedelta(days=7),
                private_key_path=keyring["director"].private_key_path, issued_at=NOW - dt.timedelta(hours=1))
    return sign_authorization(REQ, **(args | over))


def _delegation(keyring, **over):
    args = dict(scope=["disclose", "legal-hold"], valid_from=NOW - dt.timedelta(days=1),
                valid_until=NOW + dt.timedelta(days=30), private_key_path=keyring["director"].private_key_path,
                designee_public_key_path=keyring["deputy"].public_key_path)
    return sign_delegation("deputy", **(args | over))


def _designee_auth(keyring, delegation, **over):
    args = dict(signer="designee", scope=["disclose"], expires_at=NOW + dt.timedelta(days=2),
                private_key_path=keyring["deputy"].private_key_path, delegation=delegation,
                issued_at=NOW - dt.timedelta(hours=1))
    return sign_authorization(REQ, **(args | over))


# ----------------------------------------------------------------------------- the Director
def test_directors_authorization_verifies(keyring):
    ok, reason, role = _verify(keyring, _director_auth(keyring), action="disclose")
    assert (ok, role) == (True, "director")
    assert keyring["director"].fingerprint in reason


def test_a_json_round_trip_keeps_it_valid(keyring):
    doc = json.loads(json.dumps(_director_auth(keyring, note="counsel consulted 2026-06-30")))
    assert _verify(keyring, doc)[0]


def test_forged_signature_is_refused(keyring):
    """Same document, signed by a key that is not the Director's, claiming to be the Director's."""
    genuine = _director_auth(keyring)
    forged = _director_auth(keyring, private_key_path=keyring["intruder"].private_key_path)
    ok, reason, role = _verify(keyring, forged)
    assert not ok and role is None and reason.startswith("unknown key")
    forged["key_id"], forged["public_key"] = genuine["key_id"], genuine["public_key"]   # impersonate
    ok, reason, _ = _verify(keyring, forged)
    assert not ok and reason.startswith("bad signature"), reason


def test_random_signature_bytes_are_refused(keyring):
    doc = _director_auth(keyring)
    doc["signature"] = base64.b64encode(b"\x00" * 64).decode()
    assert _verify(keyring, doc)[1].startswith("bad signature")


@pytest.mark.parametrize("field,value", [("scope", ["disclose", "purge"]), ("expires_at", "2099-01-01T00:00:00Z"),
                                         ("request_sha256", OTHER), ("note", "altered"), ("signer", "designee")])
def test_altered_document_is_refused(keyring, field, value):
    doc = _director_auth(keyring)
    doc[field] = value
    ok, reason, _ = _verify(keyring, doc, request=doc["request_sha256"])
    assert not ok
    assert reason.startswith("bad signature") or reason.startswith("designee authorization without"), reason


def test_expired_authorization_is_refused(keyring):
    doc = _director_auth(keyring, expires_at=NOW - dt.timedelta(minutes=1), issued_at=NOW - dt.timedelta(days=2))
    ok, reason, _ = _verify(keyring, doc)
    assert not ok and reason.startswith("expired"), reason
    assert _verify(keyring, _director_auth(keyring), now=NOW + dt.timedelta(days=8))[1].startswith("expired")


def test_authorization_reused_for_another_request_is_refused(keyring):
    ok, reason, _ = _verify(keyring, _director_auth(keyring), request=OTHER)
    assert not ok and reason.startswith("bound to another request"), reason


def test_action_outside_the_authorizations_scope_is_refused(keyring):
    ok, reason, _ = _verify(keyring, _director_auth(keyring), action="purge")
    assert not ok and reason.startswith("out of scope") and "purge" in reason


def test_malformed_and_unknown_keys_are_reasons_not_crashes(keyring, tmp_path):
    assert _verify(keyring, {"type": "x"})[1].startswith("malformed authorization")
    assert _verify(keyring, "not a dict")[1].startswith("malformed authorization")
    ok, reason, _ = verify_authorization(_director_auth(keyring), REQ, NOW,
                                         director_public_key_path=tmp_path / "missing.pub")
    assert not ok and reason.startswith("unknown key")


def test_the_gateway_shape_via_partial(keyring):
    check = partial(verify_authorization, director_public_key_path=keyring["director"].public_key_path,
                    action="disclose")
    assert check(_director_auth(keyring), REQ, NOW)[0]
    assert check(_director_auth(keyring), REQ, NOW.replace(tzinfo=None))[0]     # naive = UTC


# ----------------------------------------------------------------------------- designees
def test_designee_in_scope_verifies(keyring):
    ok, reason, role = _verify(keyring, _designee_auth(keyring, _delegation(keyring)), action="disclose")
    assert (ok, role) == (True, "designee"), reason
    assert "deputy" in reason


def test_designee_out_of_scope_is_refused(keyring):
    doc = _designee_auth(keyring, _delegation(keyring), scope=["disclose", "purge"])
    ok, reason, _ = _verify(keyring, doc)
    assert not ok and reason.startswith("out of scope") and "purge" in reason, reason


def test_designee_with_expired_delegation_is_refused(keyring):
    delegation = _delegation(keyring, valid_from=NOW - dt.timedelta(days=30), valid_until=NOW - dt.timedelta(days=1))
    ok, reason, _ = _verify(keyring, _designee_auth(keyring, delegation))
    assert not ok and reason.startswith("delegation expired"), reason


def test_designee_with_delegation_not_yet_valid_is_refused(keyring):
    delegation = _delegation(keyring, valid_from=NOW + dt.timedelta(days=1), valid_until=NOW + dt.timedelta(days=9))
    ok, reason, _ = _verify(keyring, _designee_auth(keyring, delegation))
    assert not ok and reason.startswith("delegation not yet valid"), reason


def test_delegation_not_signed_by_the_director_is_refused(keyring):
    self_appointed = _delegation(keyring, private_key_path=keyring["deputy"].private_key_path)
    ok, reason, _ = _verify(keyring, _designee_auth(keyring, self_appointed))
    assert not ok and reason.startswith("delegation not signed by the Director"), reason


def test_altered_delegation_is_refused(keyring):
    delegation = _delegation(keyring)
    doc = _designee_auth(keyring, delegation)
    widened = copy.deepcopy(doc)
    widened["delegation"]["scope"] = ["disclose", "legal-hold", "purge"]
    ok, reason, _ = _verify(keyring, widened)
    assert not ok and reason.startswith("delegation not signed by the Director"), reason


def test_someone_elses_key_with_a_genuine_delegation_is_refused(keyring):
    doc = _designee_auth(keyring, _delegation(keyring))
    stolen = copy.deepcopy(doc)
    intruder = _director_auth(keyring, private_key_path=keyring["intruder"].private_key_path)
    stolen["public_key"], stolen["key_id"] = intruder["public_key"], intruder["key_id"]
    ok, reason, _ = _verify(keyring, stolen)
    assert not ok and reason.startswith("unknown key"), reason
    with pytest.raises(InputError, match="not the one the delegation appoints"):
        _designee_auth(keyring, _delegation(keyring), private_key_path=keyring["intruder"].private_key_path)


def test_designee_without_delegation_is_refused(keyring):
    doc = _designee_auth(keyring, _delegation(keyring))
    doc["delegation"] = None
    ok, reason, _ = _verify(keyring, doc)
    assert not ok and reason.startswith("designee authorization without a delegation"), reason


# ----------------------------------------------------------------------------- keys on disk
def test_private_keys_are_0600_and_never_overwritten(keyring):
    for name in ("director", "deputy"):
        info = keyring[name]
        assert stat.S_IMODE(info.private_key_path.stat().st_mode) == 0o600
        assert len(info.fingerprint) == 32
    with pytest.raises(AuthorizationKeyError, match="refusing to overwrite"):
        init_director_key(keyring["dir"] / "director")


def test_a_world_readable_private_key_is_refused(keyring):
    keyring["director"].private_key_path.chmod(0o644)
    with pytest.raises(AuthorizationKeyError, match="too open"):
        _director_auth(keyring)


# ----------------------------------------------------------------------------- CLI


def test_cli_init_sign_delegate_verify_never_print_a_private_key(capsys, tmp_path):
    kdir, ddir = tmp_path / "director", tmp_path / "designees"
    request = tmp_path / "request.json"
    request.write_text(json.dumps(REQUEST, indent=4))           # formatting does not change the hash
    assert request_file_sha256(request) == REQ
    outputs = []
    for args in (["keys", "init", "--dir", str(kdir)], ["keys", "init", "--designee", "deputy", "--dir", str(ddir)],
                 ["keys", "sign", str(request), "--scope", "disclose", "--expires", "2d",
                  "--key", str(kdir / "director.key"), "--out", str(tmp_path / "auth.json")],
                 ["keys", "delegate", "deputy", "--scope", "disclose", "--until", "30d", "--key",
                  str(kdir / "director.key"), "--designee-key", str(ddir / "deputy.pub"),
                  "--out", str(tmp_path / "deputy.json")],
                 ["keys", "sign", str(request), "--scope", "disclose", "--key", str(ddir / "deputy.key"),
                  "--delegation", str(tmp_path / "deputy.json")],
                 ["keys", "verify", str(tmp_path / "auth.json"), str(request), "--action", "disclose",
                  "--director-key", str(kdir / "director.pub")]):
        code, out, err = run_cli(capsys, *args)
        assert code == 0, err
        outputs.append((out, err))
    designee_doc = json.loads(outputs[4][0])
    assert designee_doc["signer"] == "designee" and designee_doc["request_sha256"] == REQ
    assert verify_authorization(designee_doc, REQ, dt.datetime.now(UTC),
                                director_public_key_path=kdir / "director.pub")[0]
    text = "\n".join(o + e for o, e in outputs) + (tmp_path / "auth.json").read_text() + (tmp_path / "deputy.json").read_text()
    for private in (kdir / "director.key", ddir / "deputy.key"):
        pem = private.read_text()
        body = "".join(pem.strip().splitlines()[1:-1])
        assert body not in text and "PRIVATE KEY" not in text
    assert json.loads((tmp_path / "auth.json").read_text())["request_sha256"] == REQ


def test_cli_refusals_are_one_line(capsys, tmp_path):
    kdir = tmp_path / "director"
    run_cli(capsys, "keys", "init", "--dir", str(kdir))
    code, _, err = run_cli(capsys, "keys", "init", "--dir", str(kdir))
    assert code != 0 and "refusing to overwrite" in err and len(err.strip().splitlines()) == 1
    request, other = tmp_path / "r.json", tmp_path / "o.json"
    request.write_text(json.dumps(REQUEST))
    other.write_text(json.dumps(REQUEST | {"request_id": "x"}))
    run_cli(capsys, "keys", "sign", str(request), "--scope", "disclose", "--key", str(kdir / "director.key"),
         "--out", str(tmp_path / "auth.json"))
    code, _, err = run_cli(capsys, "keys", "verify", str(tmp_path / "auth.json"), str(other),
                        "--director-key", str(kdir / "director.pub"))
    assert code == 1 and "bound to another request" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = run_cli(capsys, "keys", "sign", str(tmp_path / "bad.json"), "--scope", "x",
                        "--key", str(kdir / "director.key"))
    assert code == 2 and "bad.json" in err


def test_every_keys_command_has_an_example():
    for command in keys_group.commands.values():
        assert "Example:" in (command.help or ""), command.name


def test_the_hash_is_the_gateways_and_ignores_an_embedded_authorization(keyring, tmp_path):
    """The authorization travels inside the request it authorizes; that must not change the request's hash."""
    doc = _director_auth(keyring)
    embedded = json.loads(json.dumps(REQUEST))
    embedded["evidence"]["written_authorization"] = doc
    path = tmp_path / "request.json"
    path.write_text(json.dumps(embedded))
    assert request_file_sha256(path) == REQ
    assert _verify(keyring, doc, request=request_sha256(parse_request(embedded)), action="law_enforcement_request")[0] \
        is False     # the scope says "disclose"
    assert _verify(keyring, _director_auth(keyring, scope=["law_enforcement_request"]),
                   action="law_enforcement_request")[0]
