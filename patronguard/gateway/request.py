"""The access request: who asks, for what, about whom, how, and on what evidence.

Read from JSON (``load_request``) or built in code (``parse_request``). Unknown
fields are errors, never a deny; types are strict (``true`` is not a number, ``"42"``
is not a borrowernumber; numbers are bounded); every error names the file and
field path.
The subject is a borrowernumber, never a name: requests carry no patron PII.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..datafiles import describe_validation_error, read_structured
from ..errors import InputError
from .vocabulary import (
    BULK_ACTIONS, DATA_ACTIONS, SCOPE_ACTIONS, SUBJECT_ACTIONS, Action, Barcode, Channel, Consent, CounselReview,
    Duty, Emergency, HandledBy, Identification, LegalProcess, RecordField, Role,
)


#: Koha's borrowernumber is a signed 32-bit INT
MAX_BORROWERNUMBER = 2**31 - 1
#: the most patrons one request may name by id (a larger set is named by a scope)
MAX_BULK_IDS = 1_000_000
#: the sets of patrons a request may name by what they have in common, resolved against the ILS
#: when the request is decided (:mod:`patronguard.gateway.scopes`)
PatronScope = Literal["all_patrons", "overdue_items", "owing_fines", "expired_cards"]


class _Strict(BaseModel):
    """Unknown fields are errors and values are taken as given: no ``true`` for 1, no ``"42"`` for 42
    (also the base of the access rules and conditions read from a policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Requester(_Strict):
    """Who is asking. A patron or guardian gives their own borrowernumber; others an opaque id."""

    role: Role = Field(examples=["patron"])
    borrowernumber: int | None = Field(default=None, ge=1, le=MAX_BORROWERNUMBER, examples=[4211])
    id: str | None = Field(default=None, max_length=120, examples=["staff-17"])


class Subject(_Strict):
    """Whose Patron Record the request is about (Westchester §1: the patron it identifies)."""

    borrowernumber: int = Field(ge=1, le=MAX_BORROWERNUMBER, examples=[4211])


class Subjects(_Strict):
    """Several patrons at once (a data share, an export, a list for a collection agency): by id, or by a
    scope the ILS resolves. The decision covers the set and says for which patrons it differs."""

    borrowernumbers: list[int] | None = Field(default=None, min_length=1, max_length=MAX_BULK_IDS,
                                              examples=[[4211, 5120, 7]])
    scope: PatronScope | None = Field(default=None, examples=["overdue_items"])

    @model_validator(mode="after")
    def _ids_or_scope(self) -> "Subjects":
        if (self.borrowernumbers is None) == (self.scope is None):
            raise ValueError("give exactly one of borrowernumbers (a list of ids) or scope (e.g. \"overdue_items\")")
        if self.borrowernumbers is not None:
            bad = next((n for n in self.borrowernumbers if not 1 <= n <= MAX_BORROWERNUMBER), None)
            if bad is not None:
                raise ValueError(f"borrowernumbers: {bad} is not a borrowernumber (1 to {MAX_BORROWERNUMBER})")
            if len(set(self.borrowernumbers)) != len(self.borrowernumbers):
                raise ValueError("borrowernumbers: a patron is listed twice")
        return self


class Recipient(_Strict):
    """Who will receive the data of a request about several patrons (a vendor, a consortium, an agency):
    an opaque reference and what kind of party it is, never a person's name."""

    id: str = Field(min_length=1, max_length=120, examples=["acme-collections"])
    role: Role = Field(examples=["third_party"])


class Evidence(_Strict):
    """What the requester presented. Every item defaults to 'nothing presented'."""

    identification: Identification = Field(default="none", examples=["current"])
    barcode: Barcode = Field(default="none", examples=["full"])
    financial_responsibility: bool = Field(default=False, examples=[True])
    authenticated: bool = Field(default=False, examples=[True])
    consent: Consent = Field(default="none", examples=["signed_written"])
    legal_process: LegalProcess = Field(default="none", examples=["court_order"])
    counsel_review: CounselReview = Field(default="none", examples=["advised_release"])
    emergency: Emergency = Field(default="none", examples=["public_safety"])
    authorized_staff: bool = Field(default=False, examples=[True])
    duty: Duty = Field(default="none", examples=["library_transaction"])
    board_resolution: bool = Field(default=False, examples=[True])
    written_authorization: dict[str, Any] | None = Field(
        default=None, examples=[{"signer": "director", "request_sha256": "…", "signature": "…"}])


class Binding(_Strict):
    """What a request patronguard prints for signing is bound to (``purge --print-request``,
    ``holds release --print-request``): this store, one use (the nonce), and — for a purge — the exact
    scope, the cutoff it resolves to and the mode; for a hold release, the hold and the legal process
    that placed it. The run about to happen must match every field (:mod:`patronguard.authz.uses`)."""

    store_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                          examples=["3f2c0d1e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"])
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$", examples=["9b1f0c2d3e4a5b6c7d8e9f0a1b2c3d4e"])
    scope: str | None = Field(default=None, max_length=40, examples=["older-than:30"])
    cutoff: str | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", examples=["2026-06-01"])
    mode: Literal["dry_run", "execute"] | None = Field(default=None, examples=["execute"])
    hold_id: int | None = Field(default=None, ge=1, examples=[4])
    hold_placed_at: str | None = Field(default=None, max_length=40, examples=["2026-06-30T09:12:00"])
    hold_request_id: str | None = Field(default=None, max_length=36, examples=["3f2c…"])
    hold_reference: str | None = Field(default=None, max_length=255, examples=["wpd-2026-014"])


class AccessRequest(_Strict):
    """One request to the gateway. ``fields`` is what the requester asks to be told."""

    request_id: str | None = Field(default=None, max_length=120, examples=["desk-2026-0042"])
    action: Action = Field(examples=["list_checkouts"])
    requester: Requester
    #: who is answering it now; absent means the desk (the least authority: it can only refer)
    handled_by: HandledBy | None = Field(default=None, examples=["desk_staff"])
    subject: Subject | None = None
    subjects: Subjects | None = None
    recipient: Recipient | None = None
    channel: Channel = Field(examples=["in_person"])
    fields: list[RecordField] = Field(default=[], examples=[["titles", "due_dates"]])
    evidence: Evidence = Evidence()
    binding: Binding | None = None

    @property
    def handler(self) -> str:
        """Who is handling it, as the rules see it: the desk unless the request says otherwise."""
        return self.handled_by or "desk_staff"

    @property
    def is_bulk(self) -> bool:
        return self.subjects is not None

    @model_validator(mode="after")
    def _shape_fits_action(self) -> "AccessRequest":
        if self.subjects is not None:
            if self.action not in BULK_ACTIONS:
                raise ValueError(f"action {self.action!r} is about one patron at a time; subjects (several "
                                 f"patrons) is for: {', '.join(sorted(BULK_ACTIONS))}")
            if self.subject is not None:
                raise ValueError("give subject (one patron) or subjects (several), not both")
            if self.recipient is None and self.action != "purge":
                raise ValueError("a request about several patrons names its recipient: "
                                 "recipient: {id: \"acme-collections\", role: third_party}")
        elif self.evidence.consent == "per_patron":
            raise ValueError("evidence.consent: per_patron (each patron's recorded consent) is only for a "
                             "request naming several patrons (subjects)")
        if self.recipient is not None and self.subjects is None:
            raise ValueError("recipient is for a request about several patrons (subjects); "
                             "for one patron the requester is the recipient")
        if (self.action in SUBJECT_ACTIONS and self.subject is None and self.subjects is None
                and self.action not in SCOPE_ACTIONS):
            raise ValueError(f"action {self.action!r} is about a patron: give subject.borrowernumber "
                             "(or subjects for several)")
        if self.action not in SUBJECT_ACTIONS and self.subject is not None and self.action != "review_decision":
            raise ValueError(f"action {self.action!r} is not about one patron: leave out subject")
        if self.action in DATA_ACTIONS and not self.fields:
            raise ValueError(f"action {self.action!r} discloses data: list the fields asked for, e.g. [\"item_count\", \"due_dates\"]")
        if self.action not in DATA_ACTIONS and self.fields:
            raise ValueError(f"action {self.action!r} discloses no data: leave out fields")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("fields lists a field twice")
        return self


def parse_request(data: Any, source: str = "request") -> AccessRequest:
    """Validate a mapping into an :class:`AccessRequest`; one-line InputError naming the field."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")
    try:
        return AccessRequest.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(source, exc, AccessRequest)) from None


def load_request(path: str | Path) -> AccessRequest:
    """Read a request file (JSON or YAML); errors name the file and the field path."""
    data, _raw = read_structured(Path(path), InputError)
    return parse_request(data, str(path))


def canonical_request(request: AccessRequest) -> dict[str, Any]:
    """The request as hashed: defaults filled in, the written authorization left out
    (an authorization is bound to the hash of the request it authorizes, so it
    cannot be part of what it signs)."""
    data = request.model_dump(mode="json")
    data["evidence"].pop("written_authorization", None)
    for optional in ("binding", "handled_by", "subjects", "recipient"):
        if data.get(optional) is None:  # requests without them hash as they always did
            data.pop(optional, None)
    return data


def request_sha256(request: AccessRequest) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(canonical_request(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
