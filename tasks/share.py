"""Tasks of the share gate (``share-export``): thin wrappers over :mod:`patronguard.share`, in the gate's order —
decide, scan (in this process, or chunk by chunk on Dask workers), redact, release or quarantine, record.

Every one handles patron data (the file, the ILS's patrons, the released borrowernumbers): nothing persisted,
nothing cached (:data:`tasks.policy.PATRON_DATA`). What they return stays in the flow's memory.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator

from prefect import task
from prefect.artifacts import create_markdown_artifact

from patronguard.policy import LoadedPolicy
from patronguard.share import (
    JudgedChunk, ReleaseScope, ShareDecision, ShareScan, audit_payload, check_share_file, decide_step, file_sha256,
    judge_chunk_on_worker, judge_key, load_gate_inputs, place_step, placed_result, record_step, recorded_release,
    redact_step, refuse, retried_result, scan_step, settings_sha256, share_key,
)

from .policy import DATABASE_IO, PATRON_DATA


@task(name="check-export", **PATRON_DATA, **DATABASE_IO)
def check_export(file_path: str, request_path: str, to: str, redact: bool, store_url: str | None,
                 share_dir: str) -> dict:
    """The file is there and readable in a known format; its hash, the share's key, and the recorded release
    of this very share if a run already released it (a retry)."""
    from patronguard.gateway import request_sha256
    from patronguard.share import check_recipient_name, load_share_request

    check_recipient_name(to)
    path = check_share_file(file_path)
    sha = file_sha256(path)
    key = share_key(sha, request_sha256(load_share_request(request_path)), to, redact)
    done = recorded_release(store_url, key)
    retried = retried_result(done, path, to, Path(share_dir)).to_dict() if done is not None else None
    return {"file_sha256": sha, "share_key": key, "retried": retried}


@task(name="decide-share", **PATRON_DATA, **DATABASE_IO)
def decide_share_task(request_path: str, policy: LoadedPolicy, to: str, ils_url: str | None, store_url: str | None,
                      consent_type: str | None) -> ShareDecision:
    """The gateway's decision on the share (scope resolved in the ILS, holds from the store)."""
    return decide_step(request_path, policy, to=to, ils_url=ils_url, store_url=store_url, consent_type=consent_type)


@task(name="record-refusal", **PATRON_DATA, **DATABASE_IO)
def record_refusal(decision: ShareDecision, file_path: str, file_sha: str, key: str, redact: bool,
                   store_url: str | None, actor: str, flow_run_id: str | None) -> dict:
    return refuse(decision, path=Path(file_path), file_sha=file_sha, key=key, redact=redact, store_url=store_url,
                  actor=actor, flow_run_id=flow_run_id).to_dict()


@task(name="load-known-patrons", **PATRON_DATA, **DATABASE_IO)
def load_known_patrons(ils_url: str | None, settings_file: str | None) -> tuple:
    """The scan settings and the ILS's patrons, read-only, held in memory only."""
    return load_gate_inputs(ils_url, settings_file)


@task(name="scan-export", **PATRON_DATA)
def scan_export(file_path: str, scope: ReleaseScope, settings, known, chunk_rows: int) -> ShareScan:
    """The whole file in this process (a small export)."""
    return scan_step(Path(file_path), scope, settings, known, chunk_rows=chunk_rows)


@task(name="judge-chunk", **PATRON_DATA)
def judge_chunk_task(chunk, key: str, settings, known, scope: ReleaseScope) -> JudgedChunk:
    """One chunk scanned and judged where it runs (a Dask worker builds its scanner once)."""
    return judge_chunk_on_worker(chunk, key, settings, known, scope)


def submitting_mapper(runner, in_flight: int):
    """A chunk mapper (:data:`patronguard.share.ChunkMapper`) submitting one ``judge-chunk`` task per chunk to
    ``runner`` (a started task runner: Dask), at most ``in_flight`` at a time, results in file order."""
    def mapper(chunks, settings, known, scope) -> Iterator[JudgedChunk]:
        key = judge_key(settings, known, scope)
        waiting: deque = deque()
        for chunk in chunks:
            waiting.append(runner.submit(judge_chunk_task, parameters={
                "chunk": chunk, "key": key, "settings": settings, "known": known, "scope": scope}))
            while len(waiting) >= in_flight:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    return mapper


@task(name="redact-export", **PATRON_DATA)
def redact_export(file_path: str, scan: ShareScan, scope: ReleaseScope, settings, known, work_dir: str,
                  chunk_rows: int) -> tuple[str | None, ShareScan]:
    copy, again = redact_step(Path(file_path), scan, scope, settings, known, work_dir=Path(work_dir),
                              chunk_rows=chunk_rows)
    return (str(copy) if copy is not None else None), again


@task(name="release-or-quarantine", **PATRON_DATA)
def release_or_quarantine(file_path: str, decision: ShareDecision, scan: ShareScan, file_sha: str, key: str,
                          settings, share_dir: str, quarantine_dir: str, redacted_copy: str | None,
                          redacted_scan: ShareScan | None) -> dict:
    placement = place_step(Path(file_path), decision, scan, file_sha=file_sha, settings_sha=settings_sha256(settings),
                           key=key, share_dir=share_dir, quarantine_dir=quarantine_dir,
                           redacted_copy=Path(redacted_copy) if redacted_copy else None, redacted_scan=redacted_scan)
    return {"outcome": placement.outcome, "path": placement.path, "record": placement.record}


@task(name="record-share", **PATRON_DATA, **DATABASE_IO)
def record_share_task(file_path: str, decision: ShareDecision, placement: dict, scan: ShareScan,
                      redacted_scan: ShareScan | None, file_sha: str, key: str, redact: bool, settings,
                      store_url: str | None, actor: str, flow_run_id: str | None) -> dict:
    """The audit event (counts and kinds, no value), then the gate's result (no value either)."""
    from patronguard.share.placement import Placement

    path = Path(file_path)
    payload = audit_payload(decision, outcome=placement["outcome"], key=key, file_sha=file_sha, path=path, scan=scan,
                            redacted_scan=redacted_scan, redact=redact, settings_sha=settings_sha256(settings),
                            actor=actor, flow_run_id=flow_run_id)
    seq = record_step(store_url, payload)
    return placed_result(decision, Placement(**placement), path=path, file_sha=file_sha, scan=scan,
                         redacted_scan=redacted_scan, audit_seq=seq).to_dict()


def share_markdown(result: dict) -> str:
    decision = result["decision"]
    lines = [f"# Share to {result['recipient']}: {result['outcome']}", "", result["reason"], "",
             f"- gateway: {decision.get('outcome')} ({'; '.join(decision.get('clauses') or []) or '-'})",
             f"- file sha256: `{result['file_sha256']}`"]
    scan = result.get("redacted_scan") or result.get("scan")
    if scan:
        lines.append(f"- scanned: {scan['rows']:,} rows, {scan['cells']:,} cells; {scan['blocking']:,} blocking, "
                     f"{scan['permitted']:,} released by the decision")
        for name in ("blocking", "permitted"):
            kinds = ", ".join(f"{k} ×{n}" for k, n in scan["entities"][name].items())
            if kinds:
                lines.append(f"- {name}: {kinds}")
    if result.get("path"):
        lines.append(f"- {result['outcome']}: `{result['path']}`")
    if result.get("retried"):
        lines.append("- a retry: this share was released before; nothing was done again")
    return "\n".join(lines) + "\n"


@task(name="publish-share-artifact", **PATRON_DATA)
def publish_share_artifact(result: dict) -> str:
    create_markdown_artifact(key="share-export", markdown=share_markdown(result),
                             description=f"Share gate: {result['outcome']}")
    return "share-export"
