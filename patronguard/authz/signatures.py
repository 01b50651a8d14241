"""Written authorizations that can be checked: Ed25519 signatures by the Director or a designee.

Westport §4: nothing is released "until authorized in writing by the Library
Director, or in his or her absence, by his or her duly appointed designee";
Westchester §5–6: the Director "or other designated staff member" decides.
Here "in writing" means *signed*:

* **The Director's key** (``patronguard keys init``, :mod:`patronguard.authz.keys`):
  an Ed25519 key pair under the configured key directory (``var/keys/director/``,
  never relative to the working directory), the private half mode 0600. Only
  the public key's fingerprint (``key_id``) ever appears in documents, logs or
  the store, which pins it (:mod:`patronguard.authz.uses`).
* **A designee appointment** (:func:`sign_delegation`): the Director signs
  ``{designee, designee_public_key, scope, valid_from, valid_until}``. The
  designee has their own key pair (:func:`init_key`, by default under
  ``var/keys/designees/NAME.key``).
* **A written authorization** (:func:`sign_authorization`): a document bound
  to one request by the SHA-256 of its canonical JSON (``request_sha256``),
  with a scope (the actions it authorizes), an issue time, an expiry and a
  random nonce, signed by the Director — or by a designee, in which case it
  embeds the Director's signed appointment. When the request carries a
  ``binding`` (store, scope, cutoff, mode, hold, nonce: the requests
  patronguard prints for a purge or a hold release), the authorization
  carries a signed copy of it, so a refusal can say exactly what differs.

Signatures cover the canonical JSON of the document without its
``signature`` field (sorted keys, no spaces), prefixed by a domain tag, so a
delegation can never pass as an authorization or the reverse.

:func:`verify_authorization` returns ``(valid, reason, signer_role)``; the
reason names what failed: a malformed document, an unknown key, a bad
signature (forged or altered), another request, an expiry, a delegation that
is expired / not yet valid / out of scope / not signed by the Director, or an
action outside the scope. The gateway passes it to ``decide(...,
verify_authorization=...)``; :func:`authorization_id` gives a stable id (the
hash of the signature) under which :mod:`patronguard.authz.uses` records each
use in the store, so a second use is refused.

Private keys are never printed, logged or stored in the store; a private
key file readable by anyone but its owner is refused.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import InputError, TerminalError
from .keys import (
    NAME as _NAME, AuthorizationKeyError, b64 as _b64, default_director_public_key_path, designee_key_dir,
    key_fingerprint, load_private_key, load_public_key, raw_public as _raw_public, unb64 as _unb64,
)

AUTHORIZATION_TYPE = "patronguard/written-authorization"
DELEGATION_TYPE = "patronguard/designee-appointment"
VERSION = 1
ROLES = ("director", "designee")
#: A document issued this far in the future (clock skew) is still accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AuthorizationRefusedError(TerminalError):
    """A written authorization did not verify (the message gives the reason)."""

    exit_code = 1


# ----------------------------------------------------------------------------- canonical forms
def request_file_sha256(path: Path | str) -> str:
    """The hash an authorization binds to: ``patronguard.gateway.request_sha256`` of the request file
    (JSON or YAML, validated; defaults filled in, any embedded written authorization left out)."""
    from ..gateway import load_request, request_sha256

    return request_sha256(load_request(path))


def _signed_bytes(document: dict) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{document.get('type')}/v{document.get('version')}\n".encode() + text.encode("utf-8")


def _utc(value: dt.datetime | dt.date | str, field: str) -> dt.datetime:
    """A UTC-aware datetime; naive values are taken as UTC, a bare date as its start."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(f"{field}: {value!r} is not an ISO date-time, e.g. 2026-07-01T17:00:00Z") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        raise InputError(f"{field}: expected a date-time")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scope(scope: list[str], field: str = "scope") -> list[str]:
    if isinstance(scope, str) or not scope or not all(isinstance(s, str) and s.strip() for s in scope):
        raise InputError(f"{field}: expected a non-empty list of action names")
    return sorted({s.strip() for s in scope})


def authorization_id(authorization: dict) -> str:
    """A stable id of a signed document (SHA-256 of its signature), for replay checks."""
    return hashlib.sha256(str(authorization.get("signature", "")).encode()).hexdigest()


# ----------------------------------------------------------------------------- signing
def sign_delegation(designee: str, *, scope: list[str], valid_from: dt.datetime | dt.date | str,
                    valid_until: dt.datetime | dt.date | str, private_key_path: Path | str,
                    designee_public_key_path: Path | str | None = None,
                    issued_at: dt.datetime | None = None) -> dict:
    """The Director's signed appointment of ``designee`` (whose public key it names) for a scope and a window."""
    if not _NAME.match(designee or ""):
        raise InputError(f"designee {designee!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    start, end = _utc(valid_from, "valid_from"), _utc(valid_until, "valid_until")
    if end <= start:
        raise InputError(f"valid_until ({_iso(end)}) must come after valid_from ({_iso(start)})")
    director = load_private_key(private_key_path)
    designee_public = load_public_key(designee_public_key_path or designee_key_dir() / f"{designee}.pub")
    document = {
        "type": DELEGATION_TYPE, "version": VERSION,
        "designee": designee,
        "designee_public_key": _b64(_raw_public(designee_public)),
        "designee_key_id": key_fingerprint(designee_public),
        "scope": _scope(scope),
        "valid_from": _iso(start), "valid_until": _iso(end),
        "issued_at": _iso(_utc(issued_at or dt.datetime.now(dt.timezone.utc), "issued_at")),
        "key_id": key_fingerprint(director.public_key()),
    }
    document["signature"] = _b64(director.sign(_signed_bytes(document)))
    return document


def sign_authorization(request_sha256: str, *, signer: str, scope: list[str],
                       expires_at: dt.datetime | dt.date | str, private_key_path: Path | str,
                       delegation: dict | None = None, note: str | None = None,
                       issued_at: dt.datetime | None = None, binding: dict | None = None) -> dict:
    """A written authorization for one request (by its canonical SHA-256), signed by the Director or a designee.

    ``binding`` is the request's own ``binding`` (store, scope, cutoff, mode, hold, nonce), copied so the
    signed document says what it was bound to; :func:`sign_request` passes it."""
    if not isinstance(request_sha256, str) or not _HEX64.match(request_sha256):
        raise InputError("request_sha256: expected 64 lower-case hex digits")
    if signer not in ROLES:
        raise InputError(f"signer: {signer!r}; expected one of {', '.join(ROLES)}")
    if signer == "designee" and not isinstance(delegation, dict):
        raise InputError("a designee's authorization needs the Director's signed delegation (--delegation FILE)")
    if signer == "director" and delegation is not None:
        raise InputError("the Director signs without a delegation; use signer='designee' to embed one")
    issued = _utc(issued_at or dt.datetime.now(dt.timezone.utc), "issued_at")
    expires = _utc(expires_at, "expires_at")
    if expires <= issued:
        raise InputError(f"expires_at ({_iso(expires)}) must come after the issue time ({_iso(issued)})")
    key = load_private_key(private_key_path)
    raw = _raw_public(key.public_key())
    if delegation is not None and delegation.get("designee_public_key") != _b64(raw):
        raise InputError("this key is not the one the delegation appoints (designee_public_key differs)")
    if binding is not None and not isinstance(binding, dict):
        raise InputError("binding: expected the request's binding object")
    document: dict[str, Any] = {
        "type": AUTHORIZATION_TYPE, "version": VERSION,
        "request_sha256": request_sha256,
        "signer": signer,
        "scope": _scope(scope),
        "issued_at": _iso(issued), "expires_at": _iso(expires),
        "nonce": secrets.token_hex(16),
        "note": note,
        "delegation": delegation,
        "public_key": _b64(raw),
        **({"binding": binding} if binding is not None else {}),
        "key_id": key_fingerprint(key.public_key()),
    }
    document["signature"] = _b64(key.sign(_signed_bytes(document)))
    return document


def sign_request(request, **kwargs) -> dict:
    """:func:`sign_authorization` for a parsed request (an ``AccessRequest``): its hash and its binding."""
    from ..gateway import request_sha256

    binding = request.binding.model_dump(mode="json") if getattr(request, "binding", None) is not None else None
    return sign_authorization(request_sha256(request), binding=binding, **kwargs)


# ----------------------------------------------------------------------------- verifying
class _Refused(Exception):
    pass


_AUTH_FIELDS = ("type", "version", "request_sha256", "signer", "scope", "issued_at", "expires_at", "public_key",
                "key_id", "signature")
_DELEGATION_FIELDS = ("type", "version", "designee", "designee_public_key", "designee_key_id", "scope",
                      "valid_from", "valid_until", "key_id", "signature")


def _require(document: Any, fields: tuple[str, ...], kind: str, expected_type: str) -> None:
    if not isinstance(document, dict):
        raise _Refused(f"malformed {kind}: expected a JSON object")
    missing = [f for f in fields if f not in document]
    if missing:
        raise _Refused(f"malformed {kind}: missing field(s) {', '.join(missing)}")
    if document["type"] != expected_type or document["version"] != VERSION:
        raise _Refused(f"malformed {kind}: type {document['type']!r} v{document['version']!r}, "
                       f"expected {expected_type!r} v{VERSION}")
    if not isinstance(document["scope"], list) or not all(isinstance(s, str) for s in document["scope"]):
        raise _Refused(f"malformed {kind}: scope must be a list of action names")


def _when(document: dict, field: str, kind: str) -> dt.datetime:
    try:
        return _utc(document[field], field)
    except (InputError, TypeError, AttributeError):
        raise _Refused(f"malformed {kind}: {field} is not an ISO date-time") from None


def _public_from(document: dict, field: str, kind: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(_unb64(document[field]))
    except (ValueError, TypeError, AttributeError):
        raise _Refused(f"malformed {kind}: {field} is not a base64 Ed25519 public key") from None


def _check_signature(document: dict, public_key: Ed25519PublicKey, what: str) -> None:
    try:
        public_key.verify(_unb64(document["signature"]), _signed_bytes(document))
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        raise _Refused(f"bad signature: {what} was forged or altered after signing") from None


def _director_key(path: Path | str | None) -> tuple[Ed25519PublicKey, str]:
    try:
        path = Path(path) if path is not None else default_director_public_key_path()
        key = load_public_key(path)
    except (AuthorizationKeyError, InputError) as exc:
        raise _Refused(f"unknown key: the Director's public key cannot be read ({exc})") from None
    return key, key_fingerprint(key)


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def _verify(authorization: dict, request_sha256: str, now: dt.datetime, director_public_key_path,
            action: str | None) -> tuple[str, str]:
    _require(authorization, _AUTH_FIELDS, "authorization", AUTHORIZATION_TYPE)
    signer = authorization["signer"]
    if signer not in ROLES:
        raise _Refused(f"malformed authorization: signer {signer!r}, expected director or designee")
    director_key, director_id = _director_key(director_public_key_path)
    delegation = authorization.get("delegation")

    if signer == "director":
        if delegation is not None:
            raise _Refused("malformed authorization: a Director's authorization carries no delegation")
        if authorization["key_id"] != director_id:
            raise _Refused(f"unknown key: signed by key {authorization['key_id']!s:.32}, "
                           f"which is not the Director's key {director_id}")
        _check_signature(authorization, director_key, "the authorization")
    else:
        if delegation is None:
            raise _Refused("designee authorization without a delegation: the designee must be appointed "
                           "in writing by the Director")
        _require(delegation, _DELEGATION_FIELDS, "delegation", DELEGATION_TYPE)
        if delegation["key_id"] != director_id:
            raise _Refused(f"delegation not signed by the Director: signed by key {delegation['key_id']!s:.32}, "
                           f"the Director's key is {director_id}")
        try:
            _check_signature(delegation, director_key, "the delegation")
        except _Refused:
            raise _Refused("delegation not signed by the Director: bad signature "
                           "(the appointment was forged or altered)") from None
        if authorization["public_key"] != delegation["designee_public_key"]:
            raise _Refused(f"unknown key: signed by key {authorization['key_id']!s:.32}, not the key the "
                           f"delegation appoints for {delegation['designee']} ({delegation['designee_key_id']})")
        _check_signature(authorization, _public_from(authorization, "public_key", "authorization"),
                         "the authorization")

    if authorization["request_sha256"] != request_sha256:
        raise _Refused(f"bound to another request: signed for request sha256 "
                       f"{_short(str(authorization['request_sha256']))}, this request is {_short(request_sha256)}")
    issued, expires = _when(authorization, "issued_at", "authorization"), _when(authorization, "expires_at",
                                                                                "authorization")
    if now >= expires:
        raise _Refused(f"expired: the authorization expired at {_iso(expires)}")
    if now + CLOCK_SKEW < issued:
        raise _Refused(f"not yet valid: the authorization is dated {_iso(issued)}, in the future")

    scope = set(authorization["scope"])
    if signer == "designee":
        start, end = _when(delegation, "valid_from", "delegation"), _when(delegation, "valid_until", "delegation")
        who = delegation["designee"]
        if now < start:
            raise _Refused(f"delegation not yet valid: {who}'s appointment starts {_iso(start)}")
        if now >= end:
            raise _Refused(f"delegation expired: {who}'s appointment ended {_iso(end)}")
        beyond = sorted(scope - set(delegation["scope"]))
        if beyond:
            raise _Refused(f"out of scope: the delegation to {who} covers {sorted(delegation['scope'])}, "
                           f"not {beyond}")
    if action is not None and action not in scope:
        raise _Refused(f"out of scope: action {action!r} is not in the authorization's scope {sorted(scope)}")
    by = "the Director" if signer == "director" else f"designee {delegation['designee']} (appointed by the Director)"
    return signer, (f"valid: signed by {by}, key {authorization['key_id']}, for request "
                    f"{_short(request_sha256)}, until {_iso(expires)}")


def verify_authorization(authorization: dict, request_sha256: str, now: dt.datetime, *,
                         director_public_key_path: Path | str | None = None,
                         action: str | None = None) -> tuple[bool, str, str | None]:
    """Check a written authorization against one request at time ``now``.

    Returns ``(True, reason, "director" | "designee")`` or ``(False, reason, None)``;
    never raises on a bad document (the reason says what is wrong).
    """
    try:
        role, reason = _verify(authorization, request_sha256, _utc(now, "now"), director_public_key_path, action)
    except _Refused as refused:
        return False, str(refused), None
    return True, reason, role
