"""The signing keys of written authorizations: Ed25519 key pairs on disk, their fingerprints.

* **Where.** The Director's pair is ``KEYS/director/director.key`` (private,
  mode 0600, PKCS#8 PEM) and ``director.pub``; a designee's is
  ``KEYS/designees/NAME.key`` / ``.pub``. ``KEYS`` is the configured key
  directory (:func:`patronguard.settings.key_dir`), and the Director's public
  key the verifier reads is :func:`patronguard.settings.director_public_key_path`
  — both absolute, never relative to the working directory.
* **Fingerprint** (``key_id``): the first 32 hex digits of the SHA-256 of the
  raw 32-byte public key. Only fingerprints appear in documents, logs and the
  store (which pins the Director's, :mod:`patronguard.authz.uses`).
* **Never silently replaced.** :func:`init_key` refuses to overwrite a key
  unless ``force``; a private key file readable by anyone but its owner is
  refused, and so is a public key file others could rewrite.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import settings
from ..errors import InputError, TerminalError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AuthorizationKeyError(TerminalError):
    """A signing key is missing, unreadable, too widely readable, or would be overwritten."""


@dataclass(frozen=True)
class KeyInfo:
    """Where a key pair lives and its public fingerprint (never the key itself)."""

    name: str
    private_key_path: Path
    public_key_path: Path
    fingerprint: str


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """The key id: first 32 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:32]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def director_key_dir() -> Path:
    return settings.key_dir() / "director"


def designee_key_dir() -> Path:
    return settings.key_dir() / "designees"


def default_director_public_key_path() -> Path:
    """``PATRONGUARD_DIRECTOR_PUBLIC_KEY`` or ``KEYS/director/director.pub`` — absolute, from configuration."""
    return settings.director_public_key_path()


def _write_new(path: Path, data: bytes, mode: int, *, force: bool) -> None:
    """Write ``path`` with ``mode`` whatever the umask: exclusively, or (``force``) by atomic replacement."""
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise AuthorizationKeyError(f"{path} already exists; refusing to overwrite a key") from None
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
        return
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def init_key(directory: Path | str, name: str, *, force: bool = False) -> KeyInfo:
    """Create ``DIRECTORY/NAME.key`` (0600) and ``DIRECTORY/NAME.pub``; refuse to overwrite either unless ``force``.

    A store that pinned the old key refuses the new one until it is pinned deliberately
    (``patronguard keys pin --replace``, recorded in the audit log)."""
    if not NAME.match(name or ""):
        raise InputError(f"key name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    directory = Path(directory)
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                raise AuthorizationKeyError(
                    f"{path} already exists; refusing to overwrite a key (a store that pinned it would refuse "
                    "the new one): keep it, or replace it on purpose with --force and then "
                    "`patronguard keys pin --replace`")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    _write_new(private_path, pem, 0o600, force=force)
    _write_new(public_path, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo),
               0o644, force=force)
    return KeyInfo(name, private_path, public_path, key_fingerprint(key.public_key()))


def init_director_key(directory: Path | str | None = None, *, force: bool = False) -> KeyInfo:
    """The Director's key pair, under ``KEYS/director/`` unless told otherwise."""
    return init_key(Path(directory) if directory is not None else director_key_dir(), "director", force=force)


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file readable by its owner only."""
    return _key_file(path, "private", Ed25519PrivateKey, 0o077,
                     "are too open; a private key must be readable by its owner only (chmod 600)",
                     lambda data: serialization.load_pem_private_key(data, password=None), "an unencrypted PEM")


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file that only its owner can change."""
    return _key_file(path, "public", Ed25519PublicKey, 0o022,
                     "let others replace the key; a public key must be writable by its owner only (chmod 644)",
                     serialization.load_pem_public_key, "a PEM")


def _key_file(path: Path | str, kind: str, expected: type, forbidden_mode: int, why_mode: str,
              load: Callable[[bytes], object], form: str):
    """The key in ``path``: refused, naming the file, if it is missing, its permissions have any of
    ``forbidden_mode``, it does not parse, or it is not an Ed25519 key."""
    path = Path(path)
    if not path.is_file():
        raise AuthorizationKeyError(f"{path}: no {kind} key there (create one with `patronguard keys init`)")
    mode = path.stat().st_mode & 0o777
    if mode & forbidden_mode:
        raise AuthorizationKeyError(f"{path}: permissions {mode:04o} {why_mode}")
    try:
        key = load(path.read_bytes())
    except (ValueError, TypeError):
        raise AuthorizationKeyError(f"{path}: not {form} {kind} key") from None
    if not isinstance(key, expected):
        raise AuthorizationKeyError(f"{path}: not an Ed25519 {kind} key")
    return key
