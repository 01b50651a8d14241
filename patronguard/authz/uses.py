"""Written authorizations are single-use and bound to one store; the store pins the Director's key.

* **Bound.** The requests patronguard prints for signing (a purge, a hold
  release) carry a ``binding``: this store's identity (``store_id``, the
  store's ``audit_log_id``, itself pinned outside the store by the audit log),
  a fresh nonce, and what exactly is authorized — the purge's scope, the
  cutoff it resolves to and the mode (``dry_run`` or ``execute``), or the hold
  and the legal process that placed it. The run about to happen rebuilds its
  request from what it is about to do plus the authorization's nonce, so the
  signature only verifies for exactly that run; when it does not, the
  authorization's own signed copy of the binding says what differs.
* **Single use.** Each use is a row of ``authorization_uses`` keyed by the
  authorization's id (SHA-256 of its signature), with the bound request's
  nonce unique too, inserted in the same store transaction as the effect (a
  hold's release, a request's decision) or — for a purge, whose effect is in
  the ILS — committed under the run lock before the first ILS write, so a kill
  can neither lose the record of a use nor let one authorization act twice.
  A second use fails on the constraint and is refused with when and for what
  the first was. A stored request decided again presents the same use (it is
  ``repeatable`` for its own purpose only).
* **The Director's key is pinned.** The first verified use (or
  ``patronguard keys init --store`` / ``keys pin``) stores the Director's key
  fingerprint in ``store_settings``; a different configured key is refused,
  naming both fingerprints, until it is pinned deliberately with ``patronguard
  keys pin --replace`` (recorded in the audit log).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .. import settings
from ..errors import InputError
from .keys import AuthorizationKeyError, key_fingerprint, load_public_key
from .signatures import AuthorizationRefusedError, authorization_id, verify_authorization

STORE_ID_SETTING = "audit_log_id"
PIN_SETTING = "director_key_fingerprint"
PIN_AT_SETTING = "director_key_pinned_at"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
T = TypeVar("T")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def short(value) -> str:
    return f"{str(value)[:12]}…"


# ----------------------------------------------------------------------------- the store's identity
def store_identity(store) -> str:
    """The store's id that bound requests name: its ``audit_log_id`` (a UUID)."""
    t = store["store_settings"]
    with store.engine.connect() as conn:
        value = conn.execute(sa.select(t.c.value).where(t.c.name == STORE_ID_SETTING)).scalar()
    if not isinstance(value, str) or not _UUID.match(value):
        raise AuthorizationRefusedError("this store has no valid identity (store_settings.audit_log_id is missing or "
                                        "not a UUID), so no authorization can be bound to it; run "
                                        "`patronguard audit verify`")
    return value


def unbound_or_other_store(signed, store_id: str, hint: str) -> str | None:
    """The refusal for an authorization with no binding, or one bound to another store; None if this store's."""
    if not isinstance(signed, dict):
        return ("not bound: the authorization names no store and no nonce (it was signed for a request without a "
                f"binding), so it could be used again or elsewhere; {hint}")
    if signed.get("store_id") != store_id:
        return f"signed for another store: store {short(signed.get('store_id'))}, this store is {short(store_id)}"
    return None


# ----------------------------------------------------------------------------- the Director's key, pinned
@dataclass(frozen=True)
class PinnedKey:
    fingerprint: str
    pinned_at: str


def pinned_director_key(store) -> PinnedKey | None:
    t = store["store_settings"]
    with store.engine.connect() as conn:
        query = sa.select(t.c.name, t.c.value).where(t.c.name.in_([PIN_SETTING, PIN_AT_SETTING]))
        rows = {name: value for name, value in conn.execute(query)}
    if PIN_SETTING not in rows:
        return None
    return PinnedKey(rows[PIN_SETTING], rows.get(PIN_AT_SETTING, "?"))


def configured_director_key(path: Path | str | None = None) -> tuple[Path, str]:
    """The configured Director's public key file (absolute) and its fingerprint."""
    path = Path(path) if path is not None else settings.director_public_key_path()
    return path, key_fingerprint(load_public_key(path))


def pin_refusal(store, path: Path | str | None = None) -> str | None:
    """Why the configured Director's key is not the one this store pinned; None if it is (or none is pinned)."""
    pinned = pinned_director_key(store)
    if pinned is None:
        return None
    try:
        path, fingerprint = configured_director_key(path)
    except (AuthorizationKeyError, InputError) as exc:
        return f"unknown key: the Director's public key cannot be read ({exc})"
    if fingerprint == pinned.fingerprint:
        return None
    return (f"not the Director's key: the configured public key {path} has fingerprint {fingerprint[:16]}, but this "
            f"store pinned the Director's key {pinned.fingerprint[:16]} on {pinned.pinned_at}; if the Director's key "
            "was replaced on purpose, pin the new one with `patronguard keys pin --replace --by NAME` "
            "(recorded in the audit log)")


def pin_director_key(store, fingerprint: str, *, actor: str, how: str, replace: bool = False) -> str:
    """Pin ``fingerprint`` as the Director's key in the store (audited); returns ``pinned``, ``unchanged`` or
    ``replaced``. A different pinned key is replaced only with ``replace``."""
    from ..audit import append_event, checkpoint

    t = store["store_settings"]
    current = pinned_director_key(store)
    if current is not None and current.fingerprint == fingerprint:
        return "unchanged"
    if current is not None and not replace:
        raise AuthorizationKeyError(
            f"this store pins the Director's key {current.fingerprint[:16]} (since {current.pinned_at}), not "
            f"{fingerprint[:16]}; to replace it on purpose: `patronguard keys pin --replace --by NAME` "
            "(recorded in the audit log)")
    at = _now().strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        with store.engine.begin() as conn:
            if current is None:
                conn.execute(t.insert(), [{"name": PIN_SETTING, "value": fingerprint},
                                          {"name": PIN_AT_SETTING, "value": at}])
            else:
                conn.execute(t.update().where(t.c.name == PIN_SETTING).values(value=fingerprint))
                conn.execute(t.delete().where(t.c.name == PIN_AT_SETTING))
                conn.execute(t.insert().values(name=PIN_AT_SETTING, value=at))
            append_event(conn, store["audit_events"], "director-key-pinned", {
                "fingerprint": fingerprint, "previous": current.fingerprint if current else None,
                "by": actor, "how": how})
    except IntegrityError:      # pinned by someone else meanwhile
        return pin_director_key(store, fingerprint, actor=actor, how=how, replace=False)
    checkpoint(store)
    return "replaced" if current is not None else "pinned"


# ----------------------------------------------------------------------------- uses
@dataclass(frozen=True)
class Use:
    """One use of a verified authorization. ``purpose`` names what it was used for, never a patron value."""

    authorization: dict
    action: str
    purpose: str
    request_sha256: str
    nonce: str | None = None
    repeatable: bool = False    # the same purpose may present it again (a stored request decided again)

    @property
    def id(self) -> str:
        return authorization_id(self.authorization)


def _nonce(authorization) -> str | None:
    binding = authorization.get("binding") if isinstance(authorization, dict) else None
    nonce = binding.get("nonce") if isinstance(binding, dict) else None
    return nonce if isinstance(nonce, str) else None


def prior_use(store, authorization: dict, nonce: str | None = None) -> dict | None:
    """The recorded use of this authorization, or of another one for the same bound request (its nonce)."""
    t = store["authorization_uses"]
    found = t.c.authorization_id == authorization_id(authorization)
    if nonce:
        found = sa.or_(found, t.c.request_nonce == nonce)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(found).order_by(t.c.used_at)).first()
    return dict(row._mapping) if row is not None else None


def describe_use(row: dict, authorization: dict) -> str:
    when = row["used_at"]
    when = when.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(when, dt.datetime) else str(when)
    if row["authorization_id"] != authorization_id(authorization):
        return (f"already used: the request it authorizes (nonce {short(row['request_nonce'])}) was acted on on "
                f"{when} for {row['purpose']}, with another authorization")
    return f"already used on {when} for {row['purpose']}"


def _same_use(row: dict | None, use: Use) -> bool:
    return row is not None and row["authorization_id"] == use.id and row["purpose"] == use.purpose


def _genuine(authorization, now: dt.datetime, path: Path, action: str) -> bool:
    """Signed by the Director (or an appointed designee), unexpired and in scope — whatever request it names."""
    return isinstance(authorization, dict) and verify_authorization(
        authorization, str(authorization.get("request_sha256")), now, director_public_key_path=path, action=action)[0]


def store_checker(store, *, action: str, purpose: str, binding_check: Callable[[object], str | None] | None = None,
                  repeatable: bool = False, director_public_key_path: Path | str | None = None):
    """The gateway's ``verify_authorization`` for this store: the pinned Director's key, the signature (and
    request, expiry, scope, delegation), the binding, and no earlier use. Pins the key on first verified use."""

    def verify(authorization, request_sha256: str, now: dt.datetime):
        try:
            path = Path(director_public_key_path) if director_public_key_path else settings.director_public_key_path()
        except InputError as exc:
            return False, f"unknown key: {exc}", None
        refusal = pin_refusal(store, path)
        if refusal:
            return False, refusal, None
        ok, reason, role = verify_authorization(authorization, request_sha256, now, director_public_key_path=path,
                                                action=action)
        if not ok:
            if binding_check is not None and reason.startswith("bound to another request") \
                    and _genuine(authorization, now, path, action):
                why = binding_check(authorization.get("binding"))   # genuine, so its binding says what differs
                if why:
                    return False, why, None
            return False, reason, None
        if pinned_director_key(store) is None:
            pin_director_key(store, configured_director_key(path)[1], actor="patronguard", how="first verified use")
        if binding_check is not None:
            why = binding_check(authorization.get("binding"))
            if why:
                return False, why, None
        row = prior_use(store, authorization, _nonce(authorization))
        if row is not None and not (repeatable and _same_use(row, Use(authorization, action, purpose, ""))):
            return False, describe_use(row, authorization), None
        return True, reason, role

    return verify


def use_once(store, use: Use | None, effect: Callable[[sa.engine.Connection], T], *, refused: str) -> T:
    """Record ``use`` and run ``effect`` in one store transaction (then checkpoint the audit log).

    The use row is the transaction's first statement, so a concurrent second use waits for the first to
    commit and then fails on the constraint: it is refused (``refused``: what was not done) with when and
    for what the authorization was used."""
    from ..audit import append_event, checkpoint

    for attempt in (0, 1):
        record = use is not None and not (use.repeatable and _same_use(prior_use(store, use.authorization), use))
        try:
            with store.engine.begin() as conn:
                if record:
                    authorization = use.authorization
                    conn.execute(store["authorization_uses"].insert().values(
                        authorization_id=use.id, request_nonce=use.nonce, used_at=_now(), action=use.action,
                        purpose=use.purpose[:255], request_sha256=use.request_sha256,
                        key_id=str(authorization.get("key_id"))[:32], signer=str(authorization.get("signer"))[:16]))
                    append_event(conn, store["audit_events"], "authorization-used", {
                        "authorization_id": use.id, "action": use.action, "purpose": use.purpose,
                        "request_sha256": use.request_sha256, "key_id": authorization.get("key_id"),
                        "signer": authorization.get("signer")})
                result = effect(conn)
        except IntegrityError:
            row = prior_use(store, use.authorization, use.nonce) if use is not None else None
            if row is None:
                raise
            if attempt == 0 and use.repeatable and _same_use(row, use):
                continue            # decided at the same moment for the same request: the same use
            error = AuthorizationRefusedError(f"{refused}: {describe_use(row, use.authorization)}")
            error.reason = describe_use(row, use.authorization)
            raise error from None
        checkpoint(store)
        return result
    raise AssertionError("unreachable")  # pragma: no cover


# ----------------------------------------------------------------------------- reasons
def authorization_verdict(decision) -> str | None:
    """What the gateway's decision says about the written authorization ("verified: …" / "not verified: …")."""
    for entry in decision.explanation:
        if entry.rule == "written_authorization":
            return entry.why
    return None


def refusal_reason(decision, presented: bool) -> str:
    """One line saying why a decision refused an act: the authorization's own reason when one was presented."""
    verdict = authorization_verdict(decision)
    if not presented:
        return f"no written authorization was presented ({decision.reason})"
    if verdict and verdict.startswith("not verified: "):
        return verdict[len("not verified: "):]
    return decision.reason
