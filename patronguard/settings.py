"""Defaults and environment variables, in one place.

| variable | default | meaning |
|---|---|---|
| ``PATRONGUARD_ILS_URL`` | ``sqlite:///var/ils.db`` | the library's ILS database |
| ``PATRONGUARD_STORE_URL`` | ``sqlite:///var/patronguard.db`` | the pipeline's own store |
| ``PATRONGUARD_POLICY`` | ``policy/westchester.yaml`` | the policy file |
| ``PATRONGUARD_HOME`` | the checkout patronguard is installed from | where ``var/`` is (absolute) |
| ``PATRONGUARD_VAR`` | ``var`` under the home | where reports, keys and the demo's files go |
| ``PATRONGUARD_KEY_DIR`` | ``keys`` under ``PATRONGUARD_VAR`` | signing keys, the patron-hash key, audit pins |
| ``PATRONGUARD_DIRECTOR_PUBLIC_KEY`` | ``director/director.pub`` under the key directory | the Director's public key |

Locations of keys and of ``var/`` are configuration: a relative value is taken
under ``PATRONGUARD_HOME``, never under the working directory, so running
patronguard from a directory that holds another ``var/keys`` changes nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

DEFAULT_ILS_URL = "sqlite:///var/ils.db"
DEFAULT_STORE_URL = "sqlite:///var/patronguard.db"
DEFAULT_POLICY = "policy/westchester.yaml"

#: The directory above the installed package: a checkout when installed editable (``pip install -e .``).
_CHECKOUT = Path(__file__).resolve().parents[1]


def ils_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_ILS_URL") or DEFAULT_ILS_URL


def store_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_STORE_URL") or DEFAULT_STORE_URL


def policy_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_POLICY") or DEFAULT_POLICY


def home() -> Path:
    """``PATRONGUARD_HOME`` (an absolute path), else the checkout patronguard is installed from, else
    ``~/.patronguard`` — never the working directory."""
    value = os.environ.get("PATRONGUARD_HOME")
    if value:
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise InputError(f"PATRONGUARD_HOME: {value!r} is a relative path; give an absolute one "
                             "(patronguard never locates keys or data from the working directory)")
        return path
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT
    return Path.home() / ".patronguard"


def _configured(variable: str, default: Path) -> Path:
    """The path in ``variable`` (a relative one is taken under the home), or ``default``; always absolute."""
    value = os.environ.get(variable)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else home() / path


def var_dir() -> Path:
    """Where reports, the demo's files, audit checkpoints and keys go: ``PATRONGUARD_VAR`` or ``HOME/var``."""
    return _configured("PATRONGUARD_VAR", home() / "var")


def key_dir() -> Path:
    """Keys: ``PATRONGUARD_KEY_DIR`` or ``var/keys`` (the Director's, designees', the patron-hash key, audit pins)."""
    return _configured("PATRONGUARD_KEY_DIR", var_dir() / "keys")


def director_public_key_path() -> Path:
    """The Director's public key: ``PATRONGUARD_DIRECTOR_PUBLIC_KEY`` or ``keys/director/director.pub``."""
    return _configured("PATRONGUARD_DIRECTOR_PUBLIC_KEY", key_dir() / "director" / "director.pub")


def quiet_third_parties() -> None:
    """No telemetry, no progress bars: set before Prefect or GX is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
