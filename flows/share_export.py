"""share-export: an export leaves the library only through the share gate.

The gateway decides the share first (the request file: ``disclose_records`` with subjects and recipient, or
``anonymised_statistics``), nothing is read if it releases nothing to the recipient; then the export is
scanned with the ILS's patrons, each finding judged against the decision; the file is released into the
recipient's folder of the share folder with its scan record, or quarantined; the decision goes to the audit
log (counts and entity kinds, never values). Tasks, in order: ``check-export``, ``decide-share``,
``load-known-patrons``, ``scan-export`` (or one ``judge-chunk`` per chunk on Dask), ``redact-export``,
``release-or-quarantine``, ``record-share``.

Large exports (``dask_from_mb`` and up, or any export when ``dask_address`` is given) are scanned chunk by
chunk on Prefect's Dask task runner (``prefect-dask``): a local cluster of ``dask_workers`` processes, or the
existing cluster at ``dask_address``, whose workers need patronguard installed. A small export runs in this
process, without Dask.

Parameters are paths, names and ids only — never a patron value or a database URL (the worker's environment
or named Secret blocks: :class:`flows.forms.Connections`). Retry-safe: a share already released (same file,
request, recipient) is found in the audit log and nothing is released or recorded again.
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

from prefect import flow  # noqa: E402
from pydantic import Field  # noqa: E402

from flows.forms import Connections, flow_run_id  # noqa: E402
from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.retention import load_retention_policy  # noqa: E402
from tasks.share import (  # noqa: E402
    check_export, decide_share_task, load_known_patrons, publish_share_artifact, record_refusal, record_share_task,
    redact_export, release_or_quarantine, scan_export, submitting_mapper,
)

#: rows per chunk, and the size from which an export is scanned on Dask by default
CHUNK_ROWS = 50_000
DASK_FROM_MB = 50.0
RECIPIENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$"
DASK_ADDRESS = r"^(?:(?:tcp|tls|ucx|inproc)://[A-Za-z0-9._\-\[\]:]{1,200})?$"


def dask_runner(address: str, workers: int):
    """Prefect's Dask task runner: the cluster at ``address``, else a local cluster of ``workers`` processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def use_dask(file_path: str, dask_address: str, dask_from_mb: float) -> bool:
    return bool(dask_address) or Path(file_path).stat().st_size >= dask_from_mb * 1024 * 1024


@flow(name="share-export", persist_result=False, log_prints=False, validate_parameters=True)
def share_export(
    file_path: Annotated[str, Field(min_length=1, max_length=1000)],
    to: Annotated[str, Field(pattern=RECIPIENT)],
    request_path: Annotated[str, Field(min_length=1, max_length=1000)],
    actor: Annotated[str, Field(min_length=1, max_length=200)],
    redact: bool = False,
    consent_type: Annotated[str, Field(max_length=64)] = "",
    policy_path: str = "",
    share_dir: str = "",
    quarantine_dir: str = "",
    dask_address: Annotated[str, Field(pattern=DASK_ADDRESS)] = "",
    dask_from_mb: Annotated[float, Field(ge=0, le=1_000_000)] = DASK_FROM_MB,
    dask_workers: Annotated[int, Field(ge=1, le=64)] = 2,
    chunk_rows: Annotated[int, Field(ge=100, le=1_000_000)] = CHUNK_ROWS,
    databases: Connections = Connections(),
) -> dict:
    """Release an export to a recipient only if nothing in it leaks a patron the gateway did not release.

    Args:
        file_path: The export on the worker (CSV, TSV, JSON, JSONL, Parquet or XLSX).
        to: The recipient's id, as the request names it (recipient.id; requester.id for statistics). The file
            goes to the share folder's subfolder of this name.
        request_path: The share as a gateway request file on the worker (docs/requests.md).
        actor: Your name (the person sharing). Recorded in the audit log with this flow run's id.
        redact: If patron data is found, release a redacted copy instead, if it scans clean.
        consent_type: For a share resting on each patron's recorded consent: the patron_consent type.
        policy_path: The policy file on the worker; empty: PATRONGUARD_POLICY or the default policy.
        share_dir: The share folder on the worker; empty: VAR/share.
        quarantine_dir: Where blocked files are kept; empty: VAR/quarantine.
        dask_address: An existing Dask scheduler (tcp://host:8786) to scan on; empty: a local cluster for
            large exports, none for small ones.
        dask_from_mb: Exports at least this many MB are scanned chunk by chunk on Dask (0: always).
        dask_workers: Processes of the local Dask cluster.
        chunk_rows: Rows per chunk.
        databases: Where the ILS and the store are: empty uses the worker's PATRONGUARD_ILS_URL and
            PATRONGUARD_STORE_URL; or name Prefect Secret blocks holding the URLs. Never a URL here.
    """
    from patronguard.share import default_quarantine_dir, default_share_dir, release_scope

    actor = actor.strip()
    share = share_dir or str(default_share_dir())
    quarantine = quarantine_dir or str(default_quarantine_dir())
    ils_url, store_url = databases.ils_url(), databases.store_url()
    checked = check_export(file_path, request_path, to, redact, store_url, share)
    if checked["retried"] is not None:
        publish_share_artifact(checked["retried"])
        return checked["retried"]
    file_sha, key = checked["file_sha256"], checked["share_key"]
    policy = load_retention_policy(policy_path or None)
    decision = decide_share_task(request_path, policy, to, ils_url, store_url, consent_type or None)
    if not decision.allowed:
        result = record_refusal(decision, file_path, file_sha, key, redact, store_url, actor, flow_run_id())
        publish_share_artifact(result)
        publish_audit_tree_head(store_url)
        return result
    settings, known = load_known_patrons(ils_url, None)
    scope = release_scope(decision)
    copy = redacted = None
    work_dir = Path(quarantine) / f".redacting-{key[:16]}"
    try:
        if use_dask(file_path, dask_address, dask_from_mb):
            from patronguard.share import scan_step

            with dask_runner(dask_address, dask_workers) as runner:
                mapper = submitting_mapper(runner, in_flight=2 * dask_workers)
                scan = scan_step(Path(file_path), scope, settings, known, chunk_rows=chunk_rows, mapper=mapper)
                if redact and scan.blocked:
                    from patronguard.share import redact_step

                    copy_path, redacted = redact_step(Path(file_path), scan, scope, settings, known,
                                                      work_dir=work_dir, chunk_rows=chunk_rows, mapper=mapper)
                    copy = str(copy_path) if copy_path is not None else None
        else:
            scan = scan_export(file_path, scope, settings, known, chunk_rows)
            if redact and scan.blocked:
                copy, redacted = redact_export(file_path, scan, scope, settings, known, str(work_dir), chunk_rows)
        placement = release_or_quarantine(file_path, decision, scan, file_sha, key, settings, share, quarantine,
                                          copy, redacted)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    result = record_share_task(file_path, decision, placement, scan, redacted, file_sha, key, redact, settings,
                               store_url, actor, flow_run_id())
    publish_share_artifact(result)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return result
