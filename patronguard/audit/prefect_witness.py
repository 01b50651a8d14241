"""The Prefect witness: tree heads published as the ``audit-tree-head`` artifact, read back from its history.

Each run of a patronguard flow ends by publishing the audit log's tree head
(:func:`patronguard.audit.witness.publish_to_prefect`, called by the ``publish-audit-tree-head`` task)
as a one-row table artifact with key ``audit-tree-head``: log id, tree size,
root hash, head entry hash, checkpoint time, store and pin (hashes and times
only, no patron value), MAC'd with the audit key. Prefect keeps every
version of a keyed artifact, in its own database, on the Prefect server — a
history the store, ``var/audit`` and ``var/keys`` cannot roll back.

``audit verify`` reads that history (``read_artifacts`` filtered by the key,
page by page) only when a Prefect API is configured — ``PREFECT_API_URL`` in
the environment or the active Prefect profile. It never starts an ephemeral
Prefect server to look: without a configured API the witness is reported as
"not configured" (an ephemeral server's database sits on this machine
anyway, in reach of whoever could roll back the rest).
"""
from __future__ import annotations

import json
import os
import urllib.parse

from .errors import WitnessUnavailableError
from .heads import NotConfigured, PublishedHead, TreeHead

ARTIFACT_KEY = "audit-tree-head"
PAGE = 200                      # the Prefect API's default (and maximum) page size
TIMEOUT_SECONDS = 15.0


def prefect_api_url() -> str | None:
    """The configured Prefect API URL (environment or active profile), or None; never starts a server."""
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if url:
        return url
    try:
        from prefect.settings import get_current_settings
    except ImportError:                                     # prefect not installed: no witness
        return None
    return (get_current_settings().api.url or "").strip() or None


def _shown(url: str) -> str:
    """The URL without any user:password part (for messages)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PrefectWitness:
    """The artifact history of key ``audit-tree-head`` on the configured Prefect API."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.name = f"Prefect witness (artifact history '{ARTIFACT_KEY}' at {_shown(api_url)})"

    def publish(self, head: TreeHead) -> str:
        """Create one ``audit-tree-head`` table artifact: in the current flow or task run if there is one
        (the run's API), else directly through the configured API (``patronguard audit repin``)."""
        from prefect.artifacts import create_table_artifact
        from prefect.context import get_run_context
        from prefect.exceptions import MissingContextError

        table = [head.record()]
        description = (f"Audit log tree head: log {head.log_id}, {head.tree_size:,} entries, root {head.root_hash}. "
                       "An external witness: `patronguard audit verify` checks the log against every head "
                       "published here.")
        try:
            get_run_context()
        except MissingContextError:
            return f"artifact {self._create_outside_a_run(table, description)}"
        return f"artifact {create_table_artifact(table=table, key=ARTIFACT_KEY, description=description)}"

    def _create_outside_a_run(self, table: list[dict], description: str) -> str:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import ArtifactCreate

        try:
            with get_client(sync_client=True, httpx_settings={"timeout": TIMEOUT_SECONDS}) as client:
                created = client.create_artifact(ArtifactCreate(key=ARTIFACT_KEY, type="table", data=json.dumps(table),
                                                                description=description))
        except Exception as exc:  # noqa: BLE001 - any failure to write means: not reachable, say why
            raise WitnessUnavailableError(f"{self.name}: unreachable ({_why(exc)})") from None
        return str(created.id)

    def heads(self) -> list[PublishedHead]:
        """Every ``audit-tree-head`` artifact ever published to this API, oldest first."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
        from prefect.client.schemas.sorting import ArtifactSort

        wanted = ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY]))
        found: list[PublishedHead] = []
        try:
            with get_client(sync_client=True, httpx_settings={"timeout": TIMEOUT_SECONDS}) as client:
                offset = 0
                while True:
                    page = client.read_artifacts(artifact_filter=wanted, sort=ArtifactSort.ID_DESC, limit=PAGE,
                                                 offset=offset)
                    found.extend(_published(artifact) for artifact in page)
                    if len(page) < PAGE:
                        break
                    offset += len(page)
        except Exception as exc:  # noqa: BLE001 - any failure to read means: not reachable, say why
            raise WitnessUnavailableError(f"{self.name}: unreachable ({_why(exc)})") from None
        found.sort(key=lambda p: p.when)
        return found


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


def _published(artifact) -> PublishedHead:
    when = artifact.created.isoformat() if artifact.created is not None else ""
    data = artifact.data
    try:
        rows = json.loads(data) if isinstance(data, str) else data
        if not isinstance(rows, list) or len(rows) != 1:
            raise ValueError("not a one-row table")
        return PublishedHead(TreeHead.from_record(rows[0]), when, str(artifact.id))
    except ValueError as exc:
        return PublishedHead(None, when, str(artifact.id), problem=str(exc))


def prefect_witness() -> PrefectWitness | NotConfigured:
    url = prefect_api_url()
    if url is None:
        return NotConfigured("Prefect witness", "no PREFECT_API_URL in the environment or the Prefect profile; "
                                                "no ephemeral server is started to check")
    return PrefectWitness(url)
