"""Defaults and environment variables, in one place.

Everything patronguard keeps — the store, keys, audit checkpoints, reports, the demo's files — defaults
to ONE home: ``PATRONGUARD_HOME`` (an absolute path), else the per-user data directory
(:func:`platformdirs.user_data_dir`, e.g. ``~/.local/share/patronguard`` on Linux). Never the checkout,
never the working directory: a read-only command run anywhere creates nothing there.

| variable | default | meaning |
|---|---|---|
| ``PATRONGUARD_HOME`` | the per-user data directory | the one home of everything below (absolute) |
| ``PATRONGUARD_VAR`` | ``var`` under the home | reports, audit checkpoints, the default ILS and store, keys |
| ``PATRONGUARD_KEY_DIR`` | ``keys`` under ``PATRONGUARD_VAR`` | signing keys, the patron-hash key, audit pins |
| ``PATRONGUARD_DIRECTOR_PUBLIC_KEY`` | ``director/director.pub`` under the key directory | the Director's public key |
| ``PATRONGUARD_ILS_URL`` | ``sqlite:///VAR/ils.db`` | the library's ILS database |
| ``PATRONGUARD_STORE_URL`` | ``sqlite:///VAR/patronguard.db`` | the pipeline's own store |
| ``PATRONGUARD_POLICY`` | the packaged ``westchester.yaml`` | the policy file |

Locations of keys and of ``var/`` are configuration: a relative value is taken
under the home, never under the working directory, so running patronguard from
a directory that holds another ``var/keys`` changes nothing.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import InputError

APP = "patronguard"
#: How the defaults read in help texts (the real paths depend on the home).
DEFAULT_ILS_URL = "sqlite:///VAR/ils.db, VAR = PATRONGUARD_VAR or PATRONGUARD_HOME/var"
DEFAULT_STORE_URL = "sqlite:///VAR/patronguard.db, VAR = PATRONGUARD_VAR or PATRONGUARD_HOME/var"
DEFAULT_POLICY = "the packaged westchester.yaml"
#: The policies shipped in the package (``patronguard/policy/defaults/``), by library.
PACKAGED_POLICIES = ("westchester", "westport")
DEFAULT_POLICY_NAME = "westchester"


def user_data_dir() -> Path:
    """The per-user data directory: :func:`platformdirs.user_data_dir`, else ``$XDG_DATA_HOME`` or
    ``~/.local/share``, + ``patronguard``."""
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base).expanduser() / APP
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def home() -> Path:
    """``PATRONGUARD_HOME`` (an absolute path), else the per-user data directory — never the checkout
    or the working directory."""
    value = os.environ.get("PATRONGUARD_HOME")
    if value:
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise InputError(f"PATRONGUARD_HOME: {value!r} is a relative path; give an absolute one "
                             "(patronguard never locates keys or data from the working directory)")
        return path
    return user_data_dir()


def _configured(variable: str, default: Path) -> Path:
    """The path in ``variable`` (a relative one is taken under the home), or ``default``; always absolute."""
    value = os.environ.get(variable)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else home() / path


def var_dir() -> Path:
    """Where reports, the demo's files, audit checkpoints, the default ILS and store and keys go:
    ``PATRONGUARD_VAR`` or ``HOME/var``."""
    return _configured("PATRONGUARD_VAR", home() / "var")


def key_dir() -> Path:
    """Keys: ``PATRONGUARD_KEY_DIR`` or ``var/keys`` (the Director's, designees', the patron-hash key, audit pins)."""
    return _configured("PATRONGUARD_KEY_DIR", var_dir() / "keys")


def director_public_key_path() -> Path:
    """The Director's public key: ``PATRONGUARD_DIRECTOR_PUBLIC_KEY`` or ``keys/director/director.pub``."""
    return _configured("PATRONGUARD_DIRECTOR_PUBLIC_KEY", key_dir() / "director" / "director.pub")


def default_ils_url() -> str:
    return f"sqlite:///{var_dir() / 'ils.db'}"


def default_store_url() -> str:
    return f"sqlite:///{var_dir() / 'patronguard.db'}"


def ils_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_ILS_URL") or default_ils_url()


def store_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_STORE_URL") or default_store_url()


def packaged_policy(name: str = DEFAULT_POLICY_NAME) -> str:
    """The path of a policy shipped as package data (loaded through :mod:`importlib.resources`, so it works
    from a wheel as from the checkout)."""
    if name not in PACKAGED_POLICIES:
        raise InputError(f"no packaged policy {name!r}; packaged: {', '.join(PACKAGED_POLICIES)}")
    resource = resources.files("patronguard.policy").joinpath("defaults", f"{name}.yaml")
    return str(resource)


def policy_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_POLICY") or packaged_policy()


def quiet_third_parties() -> None:
    """No telemetry, no progress bars: set before Prefect or GX is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
