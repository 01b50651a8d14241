"""Requests through their states, with real signatures: holds, obligations, audit, purge authorization."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ROOT
from patronguard.audit import verify_log
from patronguard.authz import init_director_key, sign_request
from patronguard.gateway import load_request, parse_request
from patronguard.policy import load_policy
from patronguard.store import opened_store
from patronguard.workflow import requests as wf
from patronguard.workflow.purge_request import PurgeRefusedError, authorized_purge, new_purge_request
from patronguard.workflow.service import (
    add_evidence, decide_stored, hold_release_request, release_hold_with_authorization, submit,
)

WESTPORT = load_policy(ROOT / "policy/westport.yaml")
WESTCHESTER = load_policy(ROOT / "policy/westchester.yaml")
EXAMPLES = ROOT / "examples/requests"


@pytest.fixture
def director(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    return init_director_key()


def _sign(request, key, *, action=None, days=1):
    return sign_request(request, signer="director", scope=[action or request.action],
                        expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days),
                        private_key_path=key.private_key_path)


def _purge_auth(store_url, scope, key, path, *, execute):
    """What the Director does: print the bound purge request for this store, sign it, save it."""
    with opened_store(store_url) as store:
        request = parse_request(new_purge_request(store, WESTCHESTER, scope, execute=execute))
    path.write_text(json.dumps(_sign(request, key)))
    return str(path)


def test_westport_s4_court_order_referred_held_then_released_on_counsel_and_signature(director, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    at_desk = dict(json.loads((EXAMPLES / "westport-s4-court-order.json").read_text()), handled_by="desk_staff")
    request = parse_request(at_desk)
    with opened_store(store_url) as store:
        request_id = submit(store, request, actor="desk-3")
        first = decide_stored(store, request_id, WESTPORT, actor="desk-3")
        assert first.outcome == "refer"                  # §4: the desk refers at once, it neither releases nor refuses
        assert wf.get_request(store, request_id).state == "referred"
        assert store.active_legal_holds() == {request.subject.borrowernumber}   # legal process: records preserved
        assert {o["code"] for o in wf.open_obligations(store)} >= {"refer_to_director"}

        add_evidence(store, request_id, actor="director", handled_by="director")   # the Director takes it over
        second = decide_stored(store, request_id, WESTPORT, actor="director")
        assert second.outcome == "pending" and second.deciding_rule == "westport-4-counsel-review"
        assert {o["code"] for o in wf.open_obligations(store)} >= {"refer_to_director", "refer_to_counsel"}

        updated = add_evidence(store, request_id, actor="director", counsel="advised_release")
        (tmp_path / "auth.json").write_text(json.dumps(_sign(updated, director)))
        add_evidence(store, request_id, actor="director", authorization_path=str(tmp_path / "auth.json"))
        final = decide_stored(store, request_id, WESTPORT, actor="director")
        assert final.outcome == "allow" and final.fields == ["loan_history"]
        steps = [s["state"] for s in wf.history(store, request_id)]
        assert steps[0] == "received" and "counsel_review" in steps and steps[-1] == "decided"
        assert len(wf.holds(store)) == 1            # one hold per request, not one per decision

        (hold,) = wf.holds(store)
        with pytest.raises(PurgeRefusedError, match="not released"):     # no signature, no release
            release_hold_with_authorization(store, hold["hold_id"], WESTPORT, None)
        release = parse_request(hold_release_request(store, hold["hold_id"]))
        wrong = _sign(release, director, action="purge")                     # signed, but for another act
        with pytest.raises(PurgeRefusedError):
            release_hold_with_authorization(store, hold["hold_id"], WESTPORT, wrong)
        assert store.active_legal_holds() == {request.subject.borrowernumber}
        decision = release_hold_with_authorization(store, hold["hold_id"], WESTPORT, _sign(release, director))
        assert decision.clauses == ["Westport §4"]
        assert store.active_legal_holds() == set()
        result = verify_log(store)
        assert result.ok, result.problem
        with store.engine.connect() as conn:
            payloads = [p for (p,) in conn.execute(sa.text("SELECT payload FROM audit_events"))]
        assert not any(str(request.subject.borrowernumber) in p for p in payloads)
        kinds = set()
        with store.engine.connect() as conn:
            kinds = {k for (k,) in conn.execute(sa.text("SELECT DISTINCT kind FROM audit_events"))}
        assert {"request-state", "decision", "legal-hold-placed", "legal-hold-released", "obligation-opened"} <= kinds


def test_a_signature_for_another_request_is_refused(director, tmp_path):
    request = load_request(EXAMPLES / "westport-s4-court-order.json")
    other = load_request(EXAMPLES / "westport-s4-subpoena-after-counsel.json")
    with opened_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        request_id = submit(store, request, actor="desk-3")
        add_evidence(store, request_id, actor="director", counsel="advised_release")
        (tmp_path / "auth.json").write_text(json.dumps(_sign(other, director, action="law_enforcement_request")))
        add_evidence(store, request_id, actor="director", authorization_path=str(tmp_path / "auth.json"))
        decision = decide_stored(store, request_id, WESTPORT, actor="director")
    assert decision.outcome != "allow"
    assert any("another request" in e.why for e in decision.explanation)


def test_westchester_s6_emergency_opens_an_obligation_that_stays_until_closed(director, tmp_path):
    doc = dict(json.loads((EXAMPLES / "westchester-s6-emergency.json").read_text()), handled_by="director")
    signed = dict(doc, evidence={**doc["evidence"], "written_authorization":
                                 _sign(parse_request(doc), director)})
    with opened_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        request_id = submit(store, parse_request(signed), actor="director")
        decision = decide_stored(store, request_id, WESTCHESTER, actor="director")
        assert decision.outcome == "allow"
        open_now = [o for o in wf.open_obligations(store) if o["code"] == "consult_counsel"]
        assert len(open_now) == 1 and open_now[0]["due_at"] is not None
        wf.close_obligation(store, open_now[0]["obligation_id"], by="director", note="counsel consulted")
        assert not [o for o in wf.open_obligations(store) if o["code"] == "consult_counsel"]
        with pytest.raises(Exception, match="already closed"):
            wf.close_obligation(store, open_now[0]["obligation_id"], by="director", note="again")


def test_workflow_refuses_impossible_steps(tmp_path):
    request = load_request(EXAMPLES / "westport-s4-no-subpoena.json")
    with opened_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        request_id = submit(store, request, actor="desk-3")
        wf.move(store, request_id, "closed", actor="desk-3")
        with pytest.raises(Exception, match="cannot go from closed"):
            wf.move(store, request_id, "referred", actor="desk-3")


def test_purge_needs_a_verified_authorization_for_that_scope(director, small_ils_sqlite_copy, tmp_path):
    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(PurgeRefusedError, match="purge refused: no written authorization was presented"):
        authorized_purge(url, WESTCHESTER, "patron:12", None, store_url=store_url, confirm=True)
    other = _purge_auth(store_url, "patron:13", director, tmp_path / "other.json", execute=True)
    with pytest.raises(PurgeRefusedError, match="signed for another scope"):
        authorized_purge(url, WESTCHESTER, "patron:12", other, store_url=store_url, confirm=True)
    good = _purge_auth(store_url, "older-than:30", director, tmp_path / "good.json", execute=False)
    result, decision = authorized_purge(url, WESTCHESTER, "older-than:30", good, store_url=store_url, confirm=False)
    assert decision.outcome == "allow" and result["dry_run"] and result["plan"]


def test_purge_of_a_patron_under_legal_hold_is_refused_with_the_clause(director, small_ils_sqlite_copy, tmp_path):
    from patronguard.workflow.requests import place_hold_now

    url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    with opened_store(store_url) as store:
        place_hold_now(store, 12, reason="court order", placed_by="director")
    good = _purge_auth(store_url, "patron:12", director, tmp_path / "held.json", execute=True)
    with pytest.raises(PurgeRefusedError, match="legal hold"):
        authorized_purge(url, WESTCHESTER, "patron:12", good, store_url=store_url, confirm=True)
    (event,) = [e for e in _audit_payloads(store_url, "decision") if e.get("action") == "purge"]
    assert event["outcome"] == "deny" and "Westchester §5" in event["clauses"]


def _audit_payloads(store_url, kind):
    with opened_store(store_url) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM audit_events WHERE kind = :k ORDER BY 1"), {"k": kind})
        return [json.loads(p) if isinstance(p, str) else p for (p,) in rows]


def _latest_artifact(key):
    import asyncio

    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_latest_artifacts()

    return next(a for a in asyncio.run(read()) if a.key == key)


def test_disclosure_and_purge_flows_go_through_the_gateway(prefect_harness, director, small_ils_sqlite_copy, tmp_path,
                                                           monkeypatch):
    from prefect.runtime import flow_run  # noqa: F401 - the run id is read through it

    from flows.director_purge import director_purge
    from flows.disclosure_request import disclosure_request

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("PATRONGUARD_ILS_URL", f"sqlite:///{small_ils_sqlite_copy}")
    monkeypatch.setenv("PATRONGUARD_STORE_URL", store_url)
    with opened_store(store_url) as store:
        request_id = submit(store, load_request(EXAMPLES / "westport-s4-no-subpoena.json"), actor="desk-3")
    decision = disclosure_request(request_id, actor="Ann Desk", policy_path=str(ROOT / "policy/westport.yaml"))
    assert decision["outcome"] == "deny" and "Westport §4" in decision["clauses"]
    with opened_store(store_url) as store:
        assert wf.get_request(store, request_id).state == "decided"
    recorded = [e for e in _audit_payloads(store_url, "decision") if e.get("request_id") == request_id]
    assert recorded and recorded[-1]["actor"] == "Ann Desk" and len(recorded[-1]["flow_run_id"]) == 36

    good = json.loads(Path(_purge_auth(store_url, "older-than:30", director, tmp_path / "auth.json",
                                       execute=True)).read_text())
    summary = director_purge({"kind": "older-than", "days": 30}, "Dana Director", authorization=good, confirm=True,
                             policy_path=str(ROOT / "policy/westchester.yaml"))
    assert summary["outcome"] == "allow" and not summary["dry_run"] and summary["batches"] > 0
    purge = _audit_payloads(store_url, "purge")[-1]
    assert purge["actor"] == "Dana Director" and len(purge["flow_run_id"]) == 36

    state = director_purge({"kind": "older-than", "days": 30}, "Dana Director", confirm=True,
                           policy_path=str(ROOT / "policy/westchester.yaml"), return_state=True)
    assert state.is_failed() and state.message.startswith("purge refused: no written authorization")
    assert "\n" not in state.message
    refused = [e for e in _audit_payloads(store_url, "decision") if e.get("outcome") == "deny"][-1]
    assert refused["actor"] == "Dana Director" and refused["flow_run_id"]
    artifact = _latest_artifact("director-purge").data
    assert "# Director's purge refused" in artifact and "patronguard keys sign" in artifact
    assert "--print-request" in artifact and "--confirm" in artifact


def test_the_purge_form_has_a_scope_choice_without_default_and_a_required_actor():
    from prefect.utilities.callables import parameter_schema

    from flows.director_purge import director_purge
    from flows.disclosure_request import disclosure_request

    schema = parameter_schema(director_purge.fn).model_dump_for_openapi()
    assert {"scope", "actor"} <= set(schema["required"])
    scope = schema["properties"]["scope"]
    assert "default" not in scope and len(scope["anyOf"]) == 2      # a choice the UI renders as one
    choices = [schema["definitions"][c["$ref"].rsplit("/", 1)[1]] for c in scope["anyOf"]]
    assert [c["title"] for c in choices] == ["Everything older than N days", "One patron's reading history"]
    assert [set(c["required"]) for c in choices] == [{"days"}, {"borrowernumber"}]
    assert schema["properties"]["authorization"]["type"] == "object"   # the pasted document, never a path
    for name, prop in schema["properties"].items():                    # no "Property is type None" in the form
        assert "null" not in json.dumps(prop.get("anyOf", [])), name
    assert not {"ils_url", "store_url", "authorization_path"} & set(schema["properties"])
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    for model in ("OlderThan", "OnePatron", "Connections"):
        for name, field in schema["definitions"][model]["properties"].items():
            assert field.get("title") and field.get("description"), (model, name)
    assert "actor" in parameter_schema(disclosure_request.fn).model_dump_for_openapi()["required"]


def test_request_decide_command_verifies_real_signatures(director, tmp_path, capsys):
    from patronguard.cli import main

    doc = json.loads((EXAMPLES / "westport-s4-court-order.json").read_text())
    doc["evidence"]["counsel_review"] = "advised_release"
    doc["evidence"]["written_authorization"] = _sign(parse_request(doc), director)
    signed = tmp_path / "signed.json"
    signed.write_text(json.dumps(doc))
    with pytest.raises(SystemExit) as done:
        main(["request", "decide", str(signed), "--policy", str(ROOT / "policy/westport.yaml"), "--json"])
        raise SystemExit(0)
    assert done.value.code == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "allow"
    doc["evidence"]["written_authorization"]["scope"] = ["purge"]          # altered after signing
    signed.write_text(json.dumps(doc))
    with pytest.raises(SystemExit):
        main(["request", "decide", str(signed), "--policy", str(ROOT / "policy/westport.yaml"), "--json"])
        raise SystemExit(0)
    assert json.loads(capsys.readouterr().out)["outcome"] != "allow"
