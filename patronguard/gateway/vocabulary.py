"""The gateway's vocabulary: actions, roles, channels, record fields, evidence.

Everything a rule may test is a *fact* named by a dotted path (``evidence.barcode``)
with a closed set of values; a policy file that tests an unknown fact or a value
the fact can never take is rejected at load time. Keeping the vocabulary here,
as data, is what lets a new jurisdiction be a new policy file instead of new code.
"""
from __future__ import annotations

from typing import Literal, get_args

Action = Literal[
    "list_checkouts",            # patron/guardian: the items checked out to a card
    "item_count_and_due_dates",  # patron/guardian: how many items and when they are due
    "view_record",               # patron/guardian: other parts of the patron record
    "staff_access",              # staff, contractor, agent: within the scope of duty
    "disclose_records",          # a third party asks for a patron's records
    "law_enforcement_request",   # an agency of government asks for a patron's records
    "emergency_release",         # public health / public safety emergency
    "media_request",             # the press asks about a patron
    "anonymised_statistics",     # counts without any patron identification
    "change_retention",          # change the retention schedule
    "scheduled_retention",       # the nightly run applying the adopted schedule
    "purge",                     # the Director's ad-hoc purge of a patron's data
    "release_legal_hold",        # lift a legal hold placed on a patron's records
    "amend_policy",              # amend the confidentiality policy
    "review_decision",           # review a decision taken under the policy
]
Role = Literal[
    "patron", "guardian", "staff", "contractor", "agent", "third_party", "law_enforcement",
    "media", "director", "designee", "board", "counsel",
]
Channel = Literal["in_person", "telephone", "written", "online"]
#: Who is handling the request — the person who must answer it now. The texts give desk staff no
#: discretion over law-enforcement or third-party requests (Westport §4: "refer all law enforcement
#: inquiries to the Library Director"; Westchester §5/§6: the Director, designee and/or Board decide).
HandledBy = Literal["desk_staff", "supervisor", "director", "designee", "board"]

#: What a request may ask to be told, and which part of a Patron Record it is.
RecordField = Literal[
    "item_count",       # number of items on the card
    "due_dates",        # their due dates
    "titles",           # which items (materials obtained)
    "loan_history",     # past loans
    "holds",            # requests for materials
    "search_history",   # information sought
    "identity",         # name, address, telephone, email, card number
    "fines",            # money owed / paid
    "incidents",        # uses of and incidents with facilities and services
    "aggregate_counts", # statistics with no patron identification
]

Identification = Literal["none", "expired", "current"]
Barcode = Literal["none", "partial", "full"]
#: ``unknown``: the person handling the request does not know (e.g. a clerk who was not shown the papers);
#: it never satisfies a requirement, and the rules send such a request to whoever can find out.
#: ``per_patron`` (only in a request naming several patrons): each patron's own consent as recorded in the ILS.
Consent = Literal["none", "verbal", "signed_written", "unknown", "per_patron"]
LegalProcess = Literal["none", "subpoena", "court_order", "other_legal_process", "unknown"]
CounselReview = Literal["none", "requested", "advised_release", "advised_refusal"]
Emergency = Literal["none", "public_health", "public_safety", "unknown"]
Duty = Literal["none", "system_administration", "library_transaction"]
SignerRole = Literal["none", "director", "designee"]

ACTIONS: tuple[str, ...] = get_args(Action)
HANDLERS: tuple[str, ...] = get_args(HandledBy)
ROLES: tuple[str, ...] = get_args(Role)
CHANNELS: tuple[str, ...] = get_args(Channel)
RECORD_FIELDS: tuple[str, ...] = get_args(RecordField)

#: Actions about one patron's data: the request must name a subject and the fields it wants.
SUBJECT_ACTIONS: frozenset[str] = frozenset({
    "list_checkouts", "item_count_and_due_dates", "view_record", "staff_access", "disclose_records",
    "law_enforcement_request", "emergency_release", "media_request", "purge", "release_legal_hold",
})
#: Actions about one patron *or* a wider scope (a purge of everything older than N days has no subject).
SCOPE_ACTIONS: frozenset[str] = frozenset({"purge"})
#: Actions a request may ask about a set of patrons at once (``subjects``: ids or a scope):
#: data shares and exports, law-enforcement or emergency requests naming many patrons, a purge of a set.
BULK_ACTIONS: frozenset[str] = frozenset({
    "disclose_records", "law_enforcement_request", "emergency_release", "staff_access", "purge",
})
#: Actions that hand data to someone: the request must list the fields it asks for.
DATA_ACTIONS: frozenset[str] = frozenset(SUBJECT_ACTIONS - {"purge", "release_legal_hold"} | {"anonymised_statistics"})

BOOL = (True, False)

#: fact path -> the values it can take. ``requester.is_subject`` and ``authorization.*``
#: are derived by the gateway (the requester's borrowernumber equals the subject's;
#: the injected signature checker accepted the written authorization).
FACTS: dict[str, tuple] = {
    "action": ACTIONS,
    "channel": CHANNELS,
    "handled_by": HANDLERS,
    "requester.role": ROLES,
    "requester.is_subject": BOOL,
    "subject.legal_hold": BOOL,               # the patron's records are under a legal hold (the store)
    "evidence.identification": get_args(Identification),
    "evidence.barcode": get_args(Barcode),
    "evidence.financial_responsibility": BOOL,
    "evidence.authenticated": BOOL,
    "evidence.consent": get_args(Consent),
    "evidence.legal_process": get_args(LegalProcess),
    "evidence.counsel_review": get_args(CounselReview),
    "evidence.emergency": get_args(Emergency),
    "evidence.authorized_staff": BOOL,
    "evidence.duty": get_args(Duty),
    "evidence.board_resolution": BOOL,
    "evidence.written_authorization": BOOL,   # presented (not necessarily valid)
    "authorization.verified": BOOL,
    "authorization.signer_role": get_args(SignerRole),
}
