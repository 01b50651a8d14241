"""Defaults and environment variables, in one place.

| variable | default | meaning |
|---|---|---|
| ``PATRONGUARD_ILS_URL`` | ``sqlite:///var/ils.db`` | the library's ILS database |
| ``PATRONGUARD_STORE_URL`` | ``sqlite:///var/patronguard.db`` | the pipeline's own store |
| ``PATRONGUARD_POLICY`` | ``policy/westchester.yaml`` | the policy file |
| ``PATRONGUARD_VAR`` | ``var`` | where reports and the demo's files go |
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ILS_URL = "sqlite:///var/ils.db"
DEFAULT_STORE_URL = "sqlite:///var/patronguard.db"
DEFAULT_POLICY = "policy/westchester.yaml"


def ils_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_ILS_URL") or DEFAULT_ILS_URL


def store_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_STORE_URL") or DEFAULT_STORE_URL


def policy_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PATRONGUARD_POLICY") or DEFAULT_POLICY


def var_dir() -> Path:
    return Path(os.environ.get("PATRONGUARD_VAR", "var"))


def quiet_third_parties() -> None:
    """No telemetry, no progress bars: set before Prefect or GX is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
