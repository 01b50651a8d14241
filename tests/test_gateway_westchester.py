"""Westchester Public Library: one or more tests per access rule, named after its clause."""
from __future__ import annotations

import pytest

from conftest import ROOT
from gateway_helpers import GUARDIAN, req, signature_double
from patronguard.gateway import decide, request_sha256
from patronguard.policy import load_policy

director_signed = signature_double
POLICY = load_policy(ROOT / "policy/westchester.yaml")


def signed(request_kwargs, signer="director"):
    unsigned = req(**request_kwargs)
    auth = {"request_sha256": request_sha256(unsigned), "valid": True}
    return req(**request_kwargs, written_authorization=auth), director_signed(signer)


def rule_status(decision, rule_id):
    return next(e for e in decision.explanation if e.rule == rule_id).status



def entry_of(decision, rule_id):
    return next(e for e in decision.explanation if e.rule == rule_id)

# ---------------------------------------------------------------- §1 (a)–(c): what a Patron Record is
def test_westchester_s1a_titles_and_loans_are_patron_records():
    d = decide(req(identification="current", fields=("titles", "loan_history", "holds", "search_history")), POLICY)
    assert "Westchester §1(a)" in d.clauses and d.outcome == "allow"


def test_westchester_s1b_identity_is_a_patron_record():
    d = decide(req(action="view_record", identification="current", fields=("identity",)), POLICY)
    assert "Westchester §1(b)" in d.clauses and "Westchester §1(a)" not in d.clauses


def test_westchester_s1c_fines_and_incidents_are_patron_records():
    d = decide(req(action="view_record", identification="current", fields=("fines", "incidents")), POLICY)
    assert "Westchester §1(c)" in d.clauses


def test_westchester_s1_subject_is_the_patron_the_record_identifies():
    # the same person asking about another card is not "the patron named"
    d = decide(req(requester={"role": "patron", "borrowernumber": 7}, identification="current"), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-3-patron-or-guardian"


def test_westchester_s1_statistics_identifying_nobody_are_not_patron_records():
    d = decide(req(action="anonymised_statistics", requester={"role": "staff", "id": "s1"}, subject=None,
                   channel="online", fields=("aggregate_counts",)), POLICY)
    assert d.outcome == "allow" and d.fields == ["aggregate_counts"]
    d = decide(req(action="anonymised_statistics", requester={"role": "media", "id": "m"}, subject=None,
                   channel="online", fields=("aggregate_counts",)), POLICY)
    assert d.outcome == "deny"


# ---------------------------------------------------------------- §2: staff within the scope of duty
@pytest.mark.parametrize("role", ["staff", "contractor", "agent"])
def test_westchester_s2_authorized_staff_within_scope_of_duty(role):
    d = decide(req(action="staff_access", requester={"role": role, "id": "x1"}, authorized_staff=True,
                   duty="library_transaction"), POLICY)
    assert d.outcome == "allow" and d.clauses[0] == "Westchester §2"


@pytest.mark.parametrize("evidence", [
    {"authorized_staff": True},                        # no duty stated: outside the scope of duty
    {"duty": "system_administration"},                 # not authorized
    {},
])
def test_westchester_s2_staff_outside_scope_or_unauthorized_is_denied(evidence):
    d = decide(req(action="staff_access", requester={"role": "staff", "id": "x1"}, **evidence), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-2-staff-scope"


def test_westchester_s2_third_party_cannot_use_staff_access():
    d = decide(req(action="staff_access", requester={"role": "third_party", "id": "t"}, authorized_staff=True,
                   duty="library_transaction"), POLICY)
    assert d.outcome == "deny"


# ---------------------------------------------------------------- §3: patron named or financially responsible party
def test_westchester_s3_patron_named_is_told():
    assert decide(req(identification="current"), POLICY).outcome == "allow"


def test_westchester_s3_guardian_with_current_id_is_told():
    d = decide(req(requester=GUARDIAN, financial_responsibility=True, identification="current"), POLICY)
    assert d.outcome == "allow" and "Westchester §3" in d.clauses


@pytest.mark.parametrize("evidence", [
    {"financial_responsibility": True, "identification": "expired"},
    {"financial_responsibility": True},
    {"identification": "current"},                     # did not sign financial responsibility
])
def test_westchester_s3_guardian_without_current_id_or_responsibility_is_denied(evidence):
    d = decide(req(requester=GUARDIAN, **evidence), POLICY)
    assert d.outcome == "deny" and d.fields == []


@pytest.mark.parametrize("role", ["third_party", "media", "staff", "law_enforcement", "counsel"])
def test_westchester_s3_nobody_else_gets_a_list(role):
    d = decide(req(requester={"role": role, "id": "x"}, identification="current"), POLICY)
    assert d.outcome == "deny"


def test_westchester_s3_online_needs_signed_in_account_and_letters_are_refused():
    assert decide(req(action="view_record", channel="online", authenticated=True), POLICY).outcome == "allow"
    assert decide(req(action="view_record", channel="online"), POLICY).outcome == "deny"
    d = decide(req(action="view_record", channel="written", identification="current"), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-3-remote-identity"


# ---------------------------------------------------------------- §4: in person / telephone
def test_westchester_s4_in_person_list_needs_current_id():
    d = decide(req(), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-4-in-person-id"
    assert "current legal ID" in d.reason
    assert decide(req(identification="expired"), POLICY).outcome == "deny"
    assert decide(req(identification="current"), POLICY).outcome == "allow"


def test_westchester_s4_telephone_gets_only_count_and_due_dates():
    d = decide(req(channel="telephone", barcode="full", fields=("titles", "item_count", "due_dates")), POLICY)
    assert d.outcome == "allow_limited"
    assert d.fields == ["item_count", "due_dates"]
    assert "Westchester §4" in d.clauses and "titles" not in d.fields


def test_westchester_s4_telephone_asking_only_titles_is_denied():
    d = decide(req(channel="telephone", barcode="full", fields=("titles",)), POLICY)
    assert d.outcome == "deny" and d.fields == []
    assert "number of items" in d.reason


@pytest.mark.parametrize("barcode", ["partial", "none"])
def test_westchester_s4_telephone_needs_the_full_barcode(barcode):
    d = decide(req(action="item_count_and_due_dates", channel="telephone", barcode=barcode,
                   fields=("item_count", "due_dates")), POLICY)
    assert d.outcome == "deny" and "full library card barcode" in d.reason


def test_westchester_s4_telephone_limit_binds_a_caller_asking_about_a_card_not_every_request():
    # a third party's request decided by the Director under §5 is not "a caller asking about a card's items"
    kwargs = dict(action="disclose_records", requester={"role": "third_party", "id": "t"}, channel="telephone",
                  legal_process="court_order", fields=("titles", "due_dates"), handled_by="director")
    request, verify = signed(kwargs)
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and d.fields == ["titles", "due_dates"]
    assert entry_of(d, "westchester-4-telephone").status == "not_applicable"


def test_westchester_s4_s3_unidentified_caller_still_gets_nothing():
    d = decide(req(channel="telephone", barcode="partial", fields=("item_count", "due_dates")), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-4-telephone"
    d = decide(req(requester={"role": "guardian", "borrowernumber": 5120}, channel="telephone", barcode="full",
                   fields=("item_count",)), POLICY)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-3-patron-or-guardian"


# ---------------------------------------------------------------- §5: third parties
TP = dict(action="disclose_records", requester={"role": "third_party", "id": "t"}, channel="written")


def test_westchester_s5_third_party_without_legal_process_is_denied():
    for handler in (None, "desk_staff", "director"):
        d = decide(req(**TP, consent="verbal", handled_by=handler), POLICY)
        assert d.outcome == "deny" and d.deciding_rule == "westchester-5-legal-basis"
        assert d.obligations == []


@pytest.mark.parametrize("evidence", [
    {"legal_process": "subpoena"}, {"legal_process": "court_order"}, {"legal_process": "other_legal_process"},
    {"consent": "signed_written"}, {"legal_process": "unknown"}, {"consent": "unknown"},
])
def test_westchester_s5_staff_refer_a_legal_basis_or_an_unknown_one_to_the_director(evidence):
    d = decide(req(**TP, handled_by="desk_staff", **evidence), POLICY)
    assert d.outcome == "refer" and d.deciding_rule == "westchester-5-staff-refer"
    assert [o.code for o in d.obligations] == ["determine_validity", "bill_requester_notice"]


def test_westchester_s5_director_determines_validity_pending_until_signed():
    d = decide(req(**TP, handled_by="director", legal_process="subpoena"), POLICY)
    assert d.outcome == "pending" and d.deciding_rule == "westchester-5-validity"
    assert "determine_validity" in [o.code for o in d.obligations]


def test_westchester_s5_basis_unknown_to_the_director_is_established_first():
    request, verify = signed(dict(TP, handled_by="director", legal_process="unknown", fields=("titles",)))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "pending" and d.deciding_rule == "westchester-5-basis-unknown"
    assert [o.code for o in d.obligations] == ["establish_basis"]


def test_westchester_s5_with_counsel_when_necessary():
    base = dict(TP, handled_by="director", legal_process="subpoena", fields=("titles",))
    request, verify = signed(dict(base, counsel_review="requested"))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "pending" and d.deciding_rule == "westchester-5-counsel-pending"
    request, verify = signed(dict(base, counsel_review="advised_refusal"))
    assert decide(request, POLICY, verify_authorization=verify).outcome == "deny"
    request, verify = signed(dict(base, counsel_review="advised_release"))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and "counsel" in entry_of(d, "westchester-5-validity").why


def test_westchester_s5_valid_request_released_and_costs_borne_by_requester():
    for handler in ("director", "designee", "board"):
        request, verify = signed(dict(TP, legal_process="subpoena", fields=("loan_history",), handled_by=handler))
        d = decide(request, POLICY, verify_authorization=verify)
        assert d.outcome == "allow" and d.fields == ["loan_history"]
        assert "bill_requester" in [o.code for o in d.obligations]
        why = entry_of(d, "westchester-5-validity").why
        assert "Westchester §5" in why and "signed determination" in why


def test_westchester_s5_staff_cannot_release_even_holding_the_directors_signature():
    request, verify = signed(dict(TP, legal_process="subpoena", fields=("loan_history",), handled_by="desk_staff"))
    assert decide(request, POLICY, verify_authorization=verify).outcome == "refer"


def test_westchester_s5_unverified_authorization_counts_for_nothing():
    kwargs = dict(TP, legal_process="subpoena", handled_by="director")
    request, _ = signed(kwargs)
    d = decide(request, POLICY)        # no verifier given
    assert d.outcome == "pending"
    note = next(e for e in d.explanation if e.rule == "written_authorization")
    assert "not verified" in note.why
    # a signature bound to another request does not verify either
    other = req(**{**kwargs, "legal_process": "court_order"},
                written_authorization=request.evidence.written_authorization)
    assert decide(other, POLICY, verify_authorization=director_signed()).outcome == "pending"


def test_westchester_s5_law_enforcement_and_media_are_third_parties():
    for action, role in (("law_enforcement_request", "law_enforcement"), ("media_request", "media")):
        d = decide(req(action=action, requester={"role": role, "id": "x"}), POLICY)
        assert d.outcome == "deny" and "Westchester §5" in d.clauses


# ---------------------------------------------------------------- §6: emergencies
EMERGENCY = dict(action="emergency_release", requester={"role": "law_enforcement", "id": "ems"}, fields=("identity",))


@pytest.mark.parametrize("handler", [None, "desk_staff", "supervisor", "board"])
def test_westchester_s6_emergency_goes_to_the_director(handler):
    d = decide(req(**EMERGENCY, emergency="public_health", handled_by=handler), POLICY)
    assert d.outcome == "refer" and d.obligations[0].code == "notify_director"


def test_westchester_s6_director_authorized_emergency_release_requires_counsel():
    for signer in ("director", "designee"):
        request, verify = signed(dict(EMERGENCY, emergency="public_safety", handled_by=signer), signer)
        d = decide(request, POLICY, verify_authorization=verify)
        assert d.outcome == "allow"
        counsel = next(o for o in d.obligations if o.code == "consult_counsel")
        assert counsel.due_days == 7


def test_westchester_s6_emergency_release_by_telephone_with_the_directors_signature():
    request, verify = signed(dict(EMERGENCY, emergency="public_health", channel="telephone", handled_by="director",
                                  fields=("identity", "titles")))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and d.fields == ["identity", "titles"]


def test_westchester_s6_director_unsigned_waits():
    d = decide(req(**EMERGENCY, emergency="public_health", handled_by="director"), POLICY)
    assert d.outcome == "pending" and d.deciding_rule == "westchester-6-director-decides"


def test_westchester_s6_no_emergency_no_emergency_release():
    request, verify = signed(dict(EMERGENCY, handled_by="director"))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-6-emergency"


def test_westchester_s6_emergency_unknown_is_established_first():
    request, verify = signed(dict(EMERGENCY, emergency="unknown", handled_by="director"))
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "pending" and d.deciding_rule == "westchester-6-emergency-unknown"
    assert decide(req(**EMERGENCY, emergency="unknown"), POLICY).outcome == "refer"


def test_westchester_s6_signer_who_is_not_director_or_designee_does_not_count():
    request, _ = signed(dict(EMERGENCY, emergency="public_safety", handled_by="director"))
    d = decide(request, POLICY, verify_authorization=lambda a, s, n: (True, "ok", "staff"))
    assert d.outcome == "pending"


def test_westchester_s5_purge_leaves_a_patron_under_legal_hold_out():
    request, verify = signed(dict(action="purge", requester={"role": "director", "id": "d"}, channel="written",
                                  fields=()))
    assert decide(request, POLICY, verify_authorization=verify).outcome == "allow"
    d = decide(request, POLICY, verify_authorization=verify, legal_hold=True)
    assert d.outcome == "deny" and d.deciding_rule == "westchester-5-purge-held"


# ---------------------------------------------------------------- §2: purge and retention, §5: review
def test_westchester_s2_purge_needs_verified_director_authorization():
    kwargs = dict(action="purge", requester={"role": "director", "id": "d"}, channel="written", fields=())
    assert decide(req(**kwargs), POLICY).outcome == "deny"
    request, verify = signed(kwargs, "designee")
    assert decide(request, POLICY, verify_authorization=verify).outcome == "allow"


def test_westchester_s2_retention_change_is_the_directors_signed_decision():
    kwargs = dict(action="change_retention", requester={"role": "director", "id": "d"}, channel="written",
                  fields=(), subject=None)
    request, verify = signed(kwargs, "designee")
    assert decide(request, POLICY, verify_authorization=verify).outcome == "deny"
    request, verify = signed(kwargs, "director")
    d = decide(request, POLICY, verify_authorization=verify)
    assert d.outcome == "allow" and d.obligations[0].code == "board_adoption"


def test_westchester_s5_board_and_director_review_decisions():
    for role, outcome in (("board", "allow"), ("director", "allow"), ("staff", "deny")):
        d = decide(req(action="review_decision", requester={"role": role, "id": "r"}, channel="written",
                       fields=(), subject=None), POLICY)
        assert d.outcome == outcome


def test_westchester_amend_policy_has_no_rule_and_is_denied_by_default():
    d = decide(req(action="amend_policy", requester={"role": "board", "id": "b"}, channel="written", fields=(),
                   subject=None, board_resolution=True), POLICY)
    assert d.outcome == "deny" and d.deciding_rule is None and d.clauses == []
    assert all(e.status == "not_applicable" for e in d.explanation)


def test_westchester_decision_carries_policy_version_hash_and_request_hash():
    request = req(identification="current")
    d = decide(request, POLICY)
    assert (d.policy_library, d.policy_version, d.policy_sha256) == (POLICY.library, "1.0", POLICY.sha256)
    assert d.request_sha256 == request_sha256(request)
    out = d.to_dict()
    assert out["outcome"] == "allow" and len(out["explanation"]) == len(POLICY.policy.access.rules)
    assert all(set(e) == {"rule", "clauses", "status", "effect", "why"} for e in out["explanation"])
