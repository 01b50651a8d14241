"""Requests about many patrons at once: one decision for the set, groups where it differs, each patron's
answer exactly a single-patron request's (never more), scopes resolved on every backend, the command line."""
from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import run_cli
from conftest import ROOT
from gateway_helpers import signature_double
from patronguard.errors import InputError
from patronguard.gateway import (
    BULK_ACTIONS, FACTS, PatronFacts, decide, decide_bulk, parse_request, request_sha256, single_request_for,
)
from patronguard.gateway.combine import SEVERITY
from patronguard.ils.patron_sets import recorded_consents, resolve_patron_scope
from patronguard.policy import load_policy

POLICIES = {name: load_policy(ROOT / f"policy/{name}.yaml") for name in ("westchester", "westport")}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=bool(os.environ.get("CI")))
BULK = ROOT / "examples/requests/bulk"
SHARE = {"action": "disclose_records", "requester": {"role": "staff", "id": "staff-17"}, "handled_by": "director",
         "recipient": {"id": "acme", "role": "third_party"}, "channel": "written", "fields": ["identity", "fines"]}


def bulk_request(ids, **changes):
    data = dict(SHARE, subjects={"borrowernumbers": list(ids)})
    evidence = changes.pop("evidence", {})
    data.update(changes)
    data["evidence"] = evidence
    if data["action"] == "purge":
        data.pop("fields", None)
        data.pop("recipient", None)
    return parse_request(data)


def signed_bulk(ids, signer="director", **changes):
    unsigned = bulk_request(ids, **changes)
    evidence = dict(changes.pop("evidence", {}), written_authorization={"request_sha256": request_sha256(unsigned),
                                                                         "valid": True})
    return bulk_request(ids, evidence=evidence, **changes), signature_double(signer)


# ---------------------------------------------------------------- what a set gets, and for whom it differs
def test_bulk_purge_leaves_patrons_under_legal_hold_out_and_says_so():
    for name, rule in (("westchester", "westchester-5-purge-held"), ("westport", "westport-4-purge-held")):
        request, verify = signed_bulk([3, 5, 8, 13], action="purge", requester={"role": "director"})
        d = decide_bulk(request, POLICIES[name], {8: PatronFacts(legal_hold=True)}, verify_authorization=verify)
        assert d.outcome == "allow_limited" and d.released == (3, 5, 13)
        assert [g.count for g in d.groups] == [3, 1]
        held = d.groups[1]
        assert held.patrons == (8,) and held.decision.outcome == "deny" and held.decision.deciding_rule == rule
        assert held.facts == ("under a legal hold",)
        out = d.to_dict()
        assert "borrowernumbers" not in out["groups"][0] and out["groups"][1]["borrowernumbers"] == [8]


def test_bulk_share_resting_on_recorded_consent_releases_only_for_consenting_patrons():
    request, verify = signed_bulk(range(1, 11), evidence={"consent": "per_patron"})
    facts = {n: PatronFacts(consent="signed_written") for n in (2, 4, 6)}
    d = decide_bulk(request, POLICIES["westchester"], facts, verify_authorization=verify)
    assert d.released == (2, 4, 6) and d.outcome == "allow_limited"
    refused = d.groups[0]
    assert refused.count == 7 and refused.decision.deciding_rule == "westchester-5-legal-basis"
    assert "Westchester §5" in refused.decision.clauses
    allowed = d.groups[1].decision
    assert allowed.fields == ["identity", "fines"] and "bill_requester" in [o.code for o in allowed.obligations]


def test_bulk_uniform_answer_is_the_answer_for_the_set():
    d = decide_bulk(bulk_request(range(1, 6), evidence={"legal_process": "subpoena"}), POLICIES["westport"])
    assert d.uniform and d.outcome == "pending" and d.total == 5 and d.released == ()
    assert d.groups[0].decision.deciding_rule == "westport-4-counsel-review"


def test_bulk_staff_handling_a_share_refer_it():
    d = decide_bulk(bulk_request(range(1, 4), handled_by="desk_staff", evidence={"legal_process": "court_order"}),
                    POLICIES["westport"])
    assert d.outcome == "refer" and d.groups[0].decision.deciding_rule == "westport-4-staff-refer"


def test_bulk_scope_needs_its_resolved_members_and_an_empty_set_releases_nothing():
    request = parse_request(dict(SHARE, subjects={"scope": "overdue_items"}, evidence={}))
    with pytest.raises(ValueError, match="resolve it against the ILS"):
        decide_bulk(request, POLICIES["westchester"])
    d = decide_bulk(request, POLICIES["westchester"], members=[])
    assert d.outcome == "deny" and d.total == 0 and "names no patron" in d.reason


def test_a_single_patron_decide_refuses_a_bulk_request():
    with pytest.raises(Exception, match="decide_bulk"):
        decide(bulk_request([1, 2]), POLICIES["westchester"])


@pytest.mark.parametrize("change, message", [
    ({"action": "list_checkouts"}, "one patron at a time"),
    ({"subject": {"borrowernumber": 4}}, "not both"),
    ({"recipient": None}, "names its recipient"),
    ({"subjects": {"borrowernumbers": [4, 4]}}, "listed twice"),
    ({"subjects": {"borrowernumbers": [0]}}, "not a borrowernumber"),
    ({"subjects": {"scope": "everyone_in_town"}}, "subjects.scope"),
    ({"subjects": {"scope": "all_patrons", "borrowernumbers": [1]}}, "exactly one of"),
])
def test_bad_bulk_request_is_one_line_naming_the_field(change, message):
    data = dict(SHARE, subjects={"borrowernumbers": [1, 2]}, **{k: v for k, v in change.items() if k != "subjects"})
    if "subjects" in change:
        data["subjects"] = change["subjects"]
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InputError, match=message) as info:
        parse_request(data)
    assert "\n" not in str(info.value)


def test_per_patron_consent_only_in_a_request_about_several_patrons():
    with pytest.raises(InputError, match="per_patron"):
        parse_request({"action": "disclose_records", "requester": {"role": "third_party", "id": "t"},
                       "subject": {"borrowernumber": 4}, "channel": "written", "fields": ["titles"],
                       "evidence": {"consent": "per_patron"}})


def test_requests_without_the_new_fields_hash_as_before():
    data = {"action": "list_checkouts", "requester": {"role": "patron", "borrowernumber": 4211},
            "subject": {"borrowernumber": 4211}, "channel": "in_person", "fields": ["titles"]}
    plain = parse_request(data)
    handled = parse_request(dict(data, handled_by="desk_staff"))
    assert request_sha256(plain) != request_sha256(handled)      # who handles it is part of what is signed
    # the canonical form of a request without handled_by, subjects or recipient has none of them
    from patronguard.gateway import canonical_request
    assert not {"handled_by", "subjects", "recipient"} & set(canonical_request(plain))


# ---------------------------------------------------------------- property: never more than alone
EVIDENCE_VALUES = {k.split(".", 1)[1]: v for k, v in FACTS.items()
                   if k.startswith("evidence.") and k != "evidence.written_authorization"}


@st.composite
def bulk_cases(draw):
    action = draw(st.sampled_from(sorted(BULK_ACTIONS)))
    ids = draw(st.lists(st.integers(1, 60), min_size=1, max_size=25, unique=True))
    evidence = {k: draw(st.sampled_from([v for v in values if v != "per_patron"]))
                for k, values in EVIDENCE_VALUES.items() if draw(st.integers(0, 2)) == 0}
    if draw(st.booleans()):
        evidence["consent"] = "per_patron"
    changes = {"action": action, "evidence": evidence,
               "handled_by": draw(st.sampled_from(["desk_staff", "supervisor", "director", "designee", "board"])),
               "requester": {"role": draw(st.sampled_from(["staff", "director", "third_party", "law_enforcement"])),
                             "id": "r"},
               "channel": draw(st.sampled_from(["in_person", "telephone", "written", "online"]))}
    if action in ("staff_access",):
        changes["fields"] = draw(st.lists(st.sampled_from(["titles", "identity", "fines", "due_dates"]),
                                          min_size=1, max_size=3, unique=True))
    facts = {n: PatronFacts(legal_hold=draw(st.booleans()),
                            consent=draw(st.sampled_from(["none", "signed_written"])))
             for n in ids if draw(st.booleans())}
    signed = draw(st.booleans())
    return ids, changes, facts, signed, draw(st.sampled_from(["director", "designee", "staff"]))


@SETTINGS
@given(case=bulk_cases(), name=st.sampled_from(sorted(POLICIES)))
def test_no_patron_in_a_set_gets_more_than_a_single_patron_request_would(case, name):
    ids, changes, facts, signed, signer = case
    if signed:
        request, verify = signed_bulk(ids, signer, **changes)
    else:
        request, verify = bulk_request(ids, **changes), None
    bulk = decide_bulk(request, POLICIES[name], facts, verify_authorization=verify)
    assert bulk.total == len(ids) and sorted(n for g in bulk.groups for n in g.patrons) == sorted(ids)
    for group in bulk.groups:
        for n in group.patrons:
            alone_facts = facts.get(n, PatronFacts())
            single = single_request_for(request, n, alone_facts)
            alone = decide(single, POLICIES[name], legal_hold=alone_facts.legal_hold,
                           verify_authorization=_rebound(verify, request, single))
            got = group.decision
            assert SEVERITY[got.outcome] >= SEVERITY[alone.outcome] or not alone.allowed or got.allowed
            if got.allowed:
                assert alone.allowed and set(got.fields) <= set(alone.fields)
            assert (got.outcome, got.fields, got.deciding_rule) == (alone.outcome, alone.fields, alone.deciding_rule)


def _rebound(verify, bulk_request_, single):
    """The bulk request's signature stands for each of its patrons' single requests (it was checked once,
    against the whole request): a verifier that answers for the single request as for the bulk one."""
    if verify is None:
        return None
    bulk_sha = request_sha256(bulk_request_)
    return lambda authorization, sha, now: verify(authorization, bulk_sha, now)


# ---------------------------------------------------------------- scopes, on every backend
def test_scopes_resolve_to_the_patrons_hand_written_sql_finds(small_ils_url):
    import datetime as dt

    engine = sa.create_engine(small_ils_url)
    day = dt.date(2026, 6, 30)
    try:
        with engine.connect() as conn:
            def ids(sql, **params):
                return sorted({int(r[0]) for r in conn.execute(sa.text(sql), params)})
            expected = {
                "all_patrons": ids("SELECT borrowernumber FROM borrowers"),
                "overdue_items": ids("SELECT borrowernumber FROM issues WHERE date_due < :d", d=dt.datetime(2026, 6, 30)),
                "owing_fines": ids("SELECT borrowernumber FROM accountlines WHERE amountoutstanding > 0 "
                                   "AND borrowernumber IS NOT NULL"),
                "expired_cards": ids("SELECT borrowernumber FROM borrowers WHERE dateexpiry < :d", d=day),
            }
        for scope, want in expected.items():
            got = resolve_patron_scope(engine, scope, day)
            assert got == want, scope
            assert want or scope == "overdue_items"
        consents = recorded_consents(engine, "GDPR_PROCESSING")
        assert consents and consents <= set(expected["all_patrons"])
        with pytest.raises(InputError, match="no patron_consent row has type 'DATA_SHARNG'"):
            recorded_consents(engine, "DATA_SHARNG")
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the command line
def test_cli_decides_a_bulk_request_with_holds_from_the_store_and_consent_from_the_ils(
        capsys, small_ils_sqlite_copy, tmp_path):
    from patronguard.store import opened_store
    from patronguard.workflow.requests import place_hold_now

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    ils = f"sqlite:///{small_ils_sqlite_copy}"
    with opened_store(store_url) as store:
        place_hold_now(store, 47, reason="court order", placed_by="director")
    purge = BULK / "westchester-s2-purge-several-patrons.json"
    code, out, err = run_cli(capsys, "request", "decide", str(purge), "--policy", str(ROOT / "policy/westchester.yaml"),
                             "--db", ils, "--store", store_url, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["patrons"] == 4 and d["outcome"] == "deny"            # unsigned: nobody is purged
    held = [g for g in d["groups"] if "under a legal hold" in g["facts"]]
    assert held and held[0]["borrowernumbers"] == [47] and held[0]["deciding_rule"] == "westchester-5-purge-held"

    share = BULK / "westchester-s5-vendor-share-per-patron-consent.json"
    code, out, err = run_cli(capsys, "request", "decide", str(share), "--policy", str(ROOT / "policy/westchester.yaml"),
                             "--db", ils, "--store", store_url, "--consent-type", "GDPR_PROCESSING")
    assert code == 0, err
    assert "no consent on record" in out and "consent on record" in out and "differs for" in out
    code, out, err = run_cli(capsys, "request", "decide", str(share), "--policy", str(ROOT / "policy/westchester.yaml"),
                             "--db", ils, "--store", store_url)
    assert code == 2 and err.count("\n") == 1 and "--consent-type" in err


def test_cli_bulk_examples_all_decide(capsys, small_ils_sqlite_copy, tmp_path):
    for path in sorted(BULK.glob("*.json")):
        policy = ROOT / f"policy/{path.name.split('-')[0]}.yaml"
        extra = ["--consent-type", "GDPR_PROCESSING"] if "per_patron" in path.read_text() else []
        code, out, err = run_cli(capsys, "request", "decide", str(path), "--policy", str(policy), "--db",
                                 f"sqlite:///{small_ils_sqlite_copy}", "--store", f"sqlite:///{tmp_path / 's.db'}",
                                 *extra)
        assert code == 0, (path.name, err)
        assert "outcome:" in out and "for the set:" in out
