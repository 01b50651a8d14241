"""The access request: who asks, for what, about whom, how, and on what evidence.

Read from JSON (``load_request``) or built in code (``parse_request``). Unknown
fields are errors, never a deny; every error names the file and field path.
The subject is a borrowernumber, never a name: requests carry no patron PII.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..datafiles import describe_validation_error, read_structured
from ..errors import InputError
from .vocabulary import (
    DATA_ACTIONS, SCOPE_ACTIONS, SUBJECT_ACTIONS, Action, Barcode, Channel, Consent, CounselReview, Duty,
    Emergency, Identification, LegalProcess, RecordField, Role,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requester(_Strict):
    """Who is asking. A patron or guardian gives their own borrowernumber; others an opaque id."""

    role: Role = Field(examples=["patron"])
    borrowernumber: int | None = Field(default=None, ge=1, examples=[4211])
    id: str | None = Field(default=None, max_length=120, examples=["staff-17"])


class Subject(_Strict):
    """Whose Patron Record the request is about (Westchester §1: the patron it identifies)."""

    borrowernumber: int = Field(ge=1, examples=[4211])


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


class AccessRequest(_Strict):
    """One request to the gateway. ``fields`` is what the requester asks to be told."""

    request_id: str | None = Field(default=None, max_length=120, examples=["desk-2026-0042"])
    action: Action = Field(examples=["list_checkouts"])
    requester: Requester
    subject: Subject | None = None
    channel: Channel = Field(examples=["in_person"])
    fields: list[RecordField] = Field(default=[], examples=[["titles", "due_dates"]])
    evidence: Evidence = Evidence()

    @model_validator(mode="after")
    def _shape_fits_action(self) -> "AccessRequest":
        if self.action in SUBJECT_ACTIONS and self.subject is None and self.action not in SCOPE_ACTIONS:
            raise ValueError(f"action {self.action!r} is about one patron: give subject.borrowernumber")
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
    return data


def request_sha256(request: AccessRequest) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(canonical_request(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
