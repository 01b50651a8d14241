"""A request about many patrons, decided against the real ILS and store: the scope resolved to its
patrons, each patron's legal hold (the store) and consent on record (the ILS), then one
:func:`~patronguard.gateway.decide_bulk`. Read-only: nothing is recorded (a preview, like ``request
decide``); the share gate and the purge record what they act on."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from .. import settings
from ..db import connect
from ..errors import InputError
from ..gateway import AccessRequest, BulkDecision, PatronFacts, decide_bulk
from ..ils.patron_sets import recorded_consents, resolve_patron_scope
from ..policy import LoadedPolicy
from ..store import opened_store
from .service import signature_checker


def patron_facts(members: Iterable[int], *, legal_holds: set[int] | frozenset[int] = frozenset(),
                 consents: set[int] | None = None) -> dict[int, PatronFacts]:
    """The facts of the patrons of a set that have any (a patron left out has none: no hold, no consent)."""
    marked = set(legal_holds) | (consents or set())
    return {n: PatronFacts(legal_hold=n in legal_holds,
                           consent="signed_written" if consents is not None and n in consents else "none")
            for n in members if n in marked}


def decide_bulk_request(request: AccessRequest, loaded: LoadedPolicy, *, ils_url: str | None,
                        store_url: str | None, consent_type: str | None = None, as_of: dt.date | None = None,
                        now: dt.datetime | None = None) -> BulkDecision:
    """Resolve, gather the facts, decide — with written authorizations really verified (signature only)."""
    per_patron = request.evidence.consent == "per_patron"
    if per_patron and not consent_type:
        raise InputError("--consent-type: this request rests on each patron's recorded consent "
                         "(evidence.consent: per_patron); name the consent type your ILS records")
    if consent_type and not per_patron:
        raise InputError("--consent-type: the request does not rest on recorded consent "
                         "(evidence.consent is not per_patron); leave it out")
    subjects = request.subjects
    members: list[int] | None = subjects.borrowernumbers
    consents = None
    if subjects.scope is not None or per_patron:
        engine = connect(settings.ils_url(ils_url), option="--db")
        try:
            if members is None:
                day = as_of or (now or dt.datetime.now(dt.timezone.utc)).astimezone(loaded.policy.tz).date()
                members = resolve_patron_scope(engine, subjects.scope, day)
            if per_patron:
                consents = recorded_consents(engine, consent_type)
        finally:
            engine.dispose()
    with opened_store(store_url) as store:
        holds = store.active_legal_holds()
    facts = patron_facts(members, legal_holds=holds, consents=consents)
    return decide_bulk(request, loaded, facts, members=members,
                       verify_authorization=signature_checker(request.action), now=now)
