"""Secret keys kept outside the store.

The patron-hash key turns borrowernumbers into keyed hashes (BLAKE2b) for the
warehouse's distinct-patron sketches: without it, a leaked store cannot be
brute-forced back to borrowernumbers. It lives in ``PATRONGUARD_HASH_KEY``
(64 hex digits) or in ``KEYS/patron-hash.key`` (``KEYS`` the key directory under the home; created on first use,
mode 0600; a key file readable by anyone but its owner is refused). The key
directory comes from configuration (:func:`patronguard.settings.key_dir`),
never from the working directory. The store remembers only its fingerprint,
and refuses a different key: sketches made with two keys would double-count
patrons.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from . import settings
from .errors import TerminalError


class SecretKeyError(TerminalError):
    """A key is missing, malformed or not the one the store was built with."""


def key_dir() -> Path:
    """Where keys (and the audit log's pins, :mod:`patronguard.audit.pin`) are kept: ``var/keys``
    (``PATRONGUARD_KEY_DIR``; an absolute path, see :func:`patronguard.settings.key_dir`)."""
    return settings.key_dir()


def _key_file() -> Path:
    return key_dir() / "patron-hash.key"


def patron_hash_key(*, create: bool = True) -> bytes:
    """The key of the warehouse's patron hashes: ``PATRONGUARD_HASH_KEY`` or ``var/keys/patron-hash.key``,
    created on first use — never with ``create=False`` (a store that already knows a key's fingerprint:
    a new key would silently start a second, unlinkable set of hashes)."""
    env = os.environ.get("PATRONGUARD_HASH_KEY")
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            raise SecretKeyError("PATRONGUARD_HASH_KEY: expected 64 hex digits") from None
        if len(key) != 32:
            raise SecretKeyError("PATRONGUARD_HASH_KEY: expected 64 hex digits (32 bytes)")
        return key
    path = _key_file()
    if not path.exists():
        if not create:
            raise SecretKeyError(f"{path}: the patron-hash key is missing, and this store's warehouse was built "
                                 "with one: restore it (or set PATRONGUARD_HASH_KEY); a new key is not created")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretKeyError(f"{path}: permissions {mode:04o} are too open; the patron-hash key must be "
                             "readable by its owner only (chmod 600)")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise SecretKeyError(f"{path}: expected 64 hex digits") from None
    if len(key) != 32:
        raise SecretKeyError(f"{path}: expected 64 hex digits (32 bytes)")
    return key


def fingerprint(key: bytes) -> str:
    """A public fingerprint of a key (never the key)."""
    return hashlib.sha256(b"patronguard-key-fingerprint:" + key).hexdigest()[:32]
