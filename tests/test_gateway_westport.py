"""Westport Library (Connecticut): one or more tests per access rule, named after its clause,
including where Conn. Gen. Stat. §11-25(b) reads more strictly than the policy."""
from __future__ import annotations

import pytest

from conftest import ROOT
from gateway_helpers import GUARDIAN, req, signature_double
from patronguard.gateway import decide, request_sha256
from patronguard.policy import load_policy

verifier = signature_double
POLICY = load_policy(ROOT / "policy/westport.yaml")
POLICE = {"role": "law_enforcement", "id": "wpd-case-0193"}


def signed(signer="director", **kwargs):
    auth = {"request_sha256": request_sha256(req(**kwargs)), "valid": True}
    return req(**kwargs, written_authorization=auth), verifier(signer)


def entry(decision, rule_id):
    return next(e for e in decision.explanation if e.rule == rule_id)


# ---------------------------------------------------------------- §1 purpose
def test_westport_s1_is_a_statement_of_purpose_listed_as_not_operative():
    access = POLICY.policy.access
    assert "westport-1" in access.not_operative
    assert all("westport-1" not in r.clauses for r in access.rules)


# ---------------------------------------------------------------- §2 privacy and confidentiality
def test_westport_s2_user_named_is_told_in_person_with_current_id():
    d = decide(req(identification="current"), POLICY)
    assert d.outcome == "allow" and d.clauses[:2] == ["Westport §2", "Conn. Gen. Stat. §11-25(b)"]


def test_westport_s2_in_person_without_current_id_is_denied():
    d = decide(req(identification="expired"), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westport-2-in-person-id"


def test_westport_s2_guardian_needs_users_written_permission_unlike_westchester():
    d = decide(req(requester=GUARDIAN, financial_responsibility=True, identification="current"), POLICY)
    assert d.outcome == "deny" and "written permission" in d.reason
    d = decide(req(requester=GUARDIAN, financial_responsibility=True, identification="current",
                   consent="signed_written"), POLICY)
    assert d.outcome == "allow"


def test_westport_s2_telephone_gets_only_count_and_due_dates():
    d = decide(req(channel="telephone", barcode="full", fields=("titles", "item_count", "due_dates")), POLICY)
    assert d.outcome == "allow_limited" and d.fields == ["item_count", "due_dates"]
    d = decide(req(channel="telephone", barcode="partial", fields=("item_count",)), POLICY)
    assert d.outcome == "deny"


def test_westport_s2_online_needs_signed_in_account():
    assert decide(req(action="view_record", channel="online", authenticated=True, fields=("fines",)),
                  POLICY).outcome == "allow"
    assert decide(req(action="view_record", channel="written", fields=("fines",)), POLICY).outcome == "deny"


def test_westport_s2_s3_staff_only_as_necessary_for_operation():
    staff = {"role": "staff", "id": "s"}
    assert decide(req(action="staff_access", requester=staff, authorized_staff=True, duty="library_transaction"),
                  POLICY).outcome == "allow"
    assert decide(req(action="staff_access", requester=staff, authorized_staff=True), POLICY).outcome == "deny"


def test_westport_ct_11_25b_statistics_without_identification_are_allowed():
    d = decide(req(action="anonymised_statistics", requester={"role": "staff", "id": "s"}, subject=None,
                   channel="online", fields=("aggregate_counts",)), POLICY)
    assert d.outcome == "allow" and "Conn. Gen. Stat. §11-25(b)" in d.clauses


# ---------------------------------------------------------------- §3 retention and media
def test_westport_s3_director_alone_decides_retention():
    kw = dict(action="change_retention", requester={"role": "director", "id": "d"}, channel="written",
              fields=(), subject=None)
    assert decide(req(**kw), POLICY).outcome == "deny"
    request, verify = signed("designee", **kw)
    assert decide(request, POLICY, verify_authorization=verify).outcome == "deny"   # "sole discretion"
    request, verify = signed("director", **kw)
    assert decide(request, POLICY, verify_authorization=verify).outcome == "allow"


def test_westport_s3_purge_needs_verified_director_or_designee_authorization():
    kw = dict(action="purge", requester={"role": "designee", "id": "d"}, channel="written", fields=())
    assert decide(req(**kw), POLICY).outcome == "deny"
    request, verify = signed("designee", **kw)
    assert decide(request, POLICY, verify_authorization=verify).outcome == "allow"


def test_westport_s3_media_requests_go_to_the_media_policy():
    d = decide(req(action="media_request", requester={"role": "media", "id": "m"}, channel="telephone",
                   fields=("titles",)), POLICY)
    assert "route_to_media_policy" in [o.code for o in d.obligations]
    assert d.outcome == "deny"           # and nothing is released: the statute binds the media too
    assert entry(d, "westport-3-media").effect == "refer"


# ---------------------------------------------------------------- §4 law-enforcement requests
def test_westport_s4_without_subpoena_or_court_order_explain_policy_and_refuse():
    d = decide(req(action="law_enforcement_request", requester=POLICE, fields=("loan_history",)), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westport-4-process"
    codes = [o.code for o in d.obligations]
    assert "explain_policy" in codes and "refer_to_director" in codes
    assert "subpoena or court order" in d.reason


def test_westport_s4_refer_to_director_at_once():
    d = decide(req(action="law_enforcement_request", requester=POLICE, fields=("loan_history",),
                   legal_process="court_order"), POLICY)
    assert d.outcome == "refer" and "Director" in d.reason
    director = next(o for o in d.obligations if o.code == "refer_to_director")
    assert director.due_days == 0
    assert "refer_to_counsel" in [o.code for o in d.obligations]


def test_westport_s4_court_order_waits_for_counsel_review():
    kw = dict(action="law_enforcement_request", requester=POLICE, fields=("loan_history",),
              legal_process="court_order", counsel_review="requested")
    request, verify = signed(**kw)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "pending" and d.deciding_rule == "westport-4-counsel-review"


def test_westport_s4_director_decides_on_counsels_advice():
    kw = dict(action="law_enforcement_request", requester=POLICE, fields=("loan_history",),
              legal_process="court_order", counsel_review="advised_release")
    request, verify = signed(**kw)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and d.fields == ["loan_history"]
    refusal = dict(kw, counsel_review="advised_refusal")
    request, verify = signed(**refusal)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "deny" and d.deciding_rule == "westport-4-counsel-advised-refusal"


def test_westport_s4_nothing_released_without_directors_written_authorization():
    kw = dict(action="law_enforcement_request", requester=POLICE, fields=("loan_history",),
              legal_process="court_order", counsel_review="advised_release")
    assert decide(req(**kw), POLICY).outcome == "refer"
    request, _ = signed(**kw)
    d = decide(request, POLICY)                 # presented, but no checker: never trusted blindly
    assert d.outcome == "refer"
    assert "not verified" in entry(d, "written_authorization").why


def test_westport_s4_ct_11_25b_subpoena_alone_is_not_enough_the_stricter_reading_shows():
    kw = dict(action="law_enforcement_request", requester=POLICE, fields=("loan_history",),
              legal_process="subpoena", counsel_review="advised_release")
    request, verify = signed(**kw)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "deny" and d.deciding_rule == "ct-11-25b-third-party"
    assert d.clauses[0] == "Conn. Gen. Stat. §11-25(b)" and "Westport §4" in d.clauses
    assert "subpoena" in d.reason and "court order" in d.reason
    why = entry(d, "ct-11-25b-third-party").why
    assert "reads more strictly than Westport §4" in why
    # the policy's own rules would have allowed it
    assert entry(d, "westport-4-process").effect == "allow"
    assert entry(d, "westport-4-counsel-review").effect == "allow"


def test_westport_ct_11_25b_third_party_needs_court_order_or_written_permission():
    base = dict(action="disclose_records", requester={"role": "third_party", "id": "t"}, channel="written",
                fields=("loan_history",))
    for evidence, outcome in (({"legal_process": "subpoena"}, "deny"),
                              ({"legal_process": "other_legal_process"}, "deny"),
                              ({"consent": "verbal"}, "deny"),
                              ({"legal_process": "court_order"}, "allow"),
                              ({"consent": "signed_written"}, "allow")):
        request, verify = signed(**base, **evidence)
        assert decide(request, POLICY, verify_authorization=verify).outcome == outcome, evidence


def test_westport_s4_s5_emergency_is_a_similar_request_for_the_director():
    kw = dict(action="emergency_release", requester={"role": "law_enforcement", "id": "ems"},
              emergency="public_safety", fields=("identity",), consent="signed_written")
    assert decide(req(**kw), POLICY).outcome == "refer"
    request, verify = signed(**kw)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and "consult_counsel" in [o.code for o in d.obligations]
    # without a court order or written permission the statute still refuses, emergency or not
    no_basis = {k: v for k, v in kw.items() if k != "consent"}
    request, verify = signed(**no_basis)
    assert decide(request, POLICY, verify_authorization=verify).outcome == "deny"


# ---------------------------------------------------------------- §5 enforcement and review, §6 amendment
def test_westport_s5_only_the_board_reviews_decisions():
    for role, outcome in (("board", "allow"), ("director", "deny"), ("staff", "deny")):
        d = decide(req(action="review_decision", requester={"role": role, "id": "r"}, channel="written",
                       fields=(), subject=None), POLICY)
        assert d.outcome == outcome and d.clauses == ["Westport §5"]


def test_westport_s6_board_may_amend_at_any_time():
    kw = dict(action="amend_policy", channel="written", fields=(), subject=None)
    d = decide(req(requester={"role": "board", "id": "b"}, board_resolution=True, **kw), POLICY)
    assert d.outcome == "allow" and d.obligations[0].code == "version_policy"
    assert decide(req(requester={"role": "board", "id": "b"}, **kw), POLICY).outcome == "deny"
    assert decide(req(requester={"role": "director", "id": "d"}, board_resolution=True, **kw),
                  POLICY).outcome == "deny"


@pytest.mark.parametrize("action", ["list_checkouts", "view_record"])
def test_westport_s2_unknown_requesters_get_default_deny_reason_never_an_allow(action):
    d = decide(req(action=action, requester={"role": "counsel", "id": "c"}, identification="current"), POLICY)
    assert d.outcome == "deny"
