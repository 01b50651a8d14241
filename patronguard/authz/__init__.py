"""Written authorizations, beside the gateway that asks for them: signed by the Director or a designee,
bound to one request (and, for the requests patronguard prints, to one store and one run), used once.

* :mod:`.keys` — the Ed25519 key pairs on disk and their fingerprints;
* :mod:`.signatures` — signing and verifying authorizations and designee appointments;
* :mod:`.uses` — the store's side: its identity, the Director's key it pins, each authorization's single use.
"""
from .keys import (
    AuthorizationKeyError, KeyInfo, default_director_public_key_path, designee_key_dir, director_key_dir,
    init_director_key, init_key, key_fingerprint, load_private_key, load_public_key,
)
from .signatures import (
    AUTHORIZATION_TYPE, CLOCK_SKEW, DELEGATION_TYPE, ROLES, AuthorizationRefusedError, authorization_id,
    request_file_sha256, sign_authorization, sign_delegation, sign_request, verify_authorization,
)
from .uses import (
    PinnedKey, Use, authorization_verdict, configured_director_key, describe_use, pin_director_key, pin_refusal,
    pinned_director_key, prior_use, refusal_reason, short, store_checker, store_identity, unbound_or_other_store,
    use_once,
)

__all__ = [
    "AUTHORIZATION_TYPE", "CLOCK_SKEW", "DELEGATION_TYPE", "ROLES", "AuthorizationKeyError",
    "AuthorizationRefusedError", "KeyInfo", "PinnedKey", "Use", "authorization_id", "authorization_verdict",
    "configured_director_key", "default_director_public_key_path", "describe_use", "designee_key_dir",
    "director_key_dir", "init_director_key", "init_key", "key_fingerprint", "load_private_key", "load_public_key",
    "pin_director_key", "pin_refusal", "pinned_director_key", "prior_use", "refusal_reason", "request_file_sha256",
    "short", "sign_authorization", "sign_delegation", "sign_request", "store_checker", "store_identity",
    "unbound_or_other_store", "use_once", "verify_authorization",
]
