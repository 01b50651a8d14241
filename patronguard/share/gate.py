"""The share gate: nothing leaves the library with a patron in it that the gateway did not release.

:func:`share_file` runs the four steps the ``share_export`` flow runs as tasks:

1. **decide** (:func:`decide_step`): the share's request through the gateway, before anything is read —
   refused (nothing scanned, nothing released) unless it releases something to the ``--to`` recipient;
2. **scan** (:func:`scan_step`): the file through the scanner with the ILS's patrons, each finding judged
   permitted (data of a patron the decision released) or blocking (:mod:`.judge`); with ``redact``, a
   redacted copy (Presidio's anonymizer) is written and judged again (:func:`redact_step`);
3. **place** (:func:`place_step`): released into ``<share_dir>/<to>/`` with its scan record, or quarantined;
4. **record** (:func:`record_step`): the audit event (counts, never values).

Fail closed: an unreadable file, an unknown format, a bad request or policy raises one line
(:class:`~patronguard.errors.InputError` and kin) before anything is released.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .. import settings as config
from ..policy import LoadedPolicy
from .decision import ShareDecision, check_recipient_name, decide_share, load_share_request
from .judge import ChunkJudge, JudgedChunk, ReleaseScope, ShareScan, tally
from .placement import Placement, file_sha256, quarantine, release
from .record import recorded_release, record_share, share_key

#: rows per chunk read from an export
CHUNK_ROWS = 50_000

#: judges a file's chunks: (chunks, settings, known patrons, scope) → judged chunks, in order
ChunkMapper = Callable[[Iterable, object, list, ReleaseScope], Iterator[JudgedChunk]]


@dataclass
class ShareResult:
    """What the gate did: ``released``, ``quarantined`` or ``refused`` — and why, in counts."""

    outcome: str
    reason: str
    file: str
    file_sha256: str
    recipient: str
    decision: dict
    scan: dict | None = None
    redacted_scan: dict | None = None
    path: str | None = None
    record: str | None = None
    redacted: bool = False
    retried: bool = False
    audit_seq: int | None = None
    verdicts: list = field(default_factory=list)     # blocking columns, masked previews only

    @property
    def released(self) -> bool:
        return self.outcome == "released"

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "reason": self.reason, "file": self.file, "file_sha256": self.file_sha256,
                "recipient": self.recipient, "decision": self.decision, "scan": self.scan,
                "redacted_scan": self.redacted_scan, "path": self.path, "record": self.record,
                "redacted": self.redacted, "retried": self.retried, "audit_seq": self.audit_seq,
                "blocking_columns": self.verdicts}


def settings_sha256(settings) -> str:
    return hashlib.sha256(settings.model_dump_json().encode("utf-8")).hexdigest()


def default_share_dir() -> Path:
    return config.var_dir() / "share"


def default_quarantine_dir() -> Path:
    return config.var_dir() / "quarantine"


# ----------------------------------------------------------------------------- the steps
def check_share_file(path: str | Path) -> Path:
    """The export exists, is a regular file and a format the scanner reads — else one line, nothing done."""
    from ..scan.readers import check_input_file

    path = Path(path)
    check_input_file(path)
    return path


def decide_step(request_path: str | Path, loaded: LoadedPolicy, *, to: str, ils_url: str | None,
                store_url: str | None, consent_type: str | None = None,
                now: dt.datetime | None = None) -> ShareDecision:
    request = load_share_request(request_path)
    return decide_share(request, loaded, to=to, ils_url=ils_url, store_url=store_url, consent_type=consent_type,
                        now=now)


def release_scope(decision: ShareDecision) -> ReleaseScope:
    if decision.released_patrons is None:
        return ReleaseScope(patron_fields=False)
    return ReleaseScope(patron_fields=True, patrons=decision.released_patrons)


def load_gate_inputs(ils_url: str | None, settings_file: str | None = None):
    """The scan settings and the ILS's patrons (read-only, in memory only)."""
    from ..scan.known import load_known_patrons_ils
    from ..scan.run import load_settings

    return load_settings(settings_file), load_known_patrons_ils(config.ils_url(ils_url), option="--db")


def in_process(chunks, settings, known, scope: ReleaseScope) -> Iterator[JudgedChunk]:
    judge = ChunkJudge(settings, known, scope)
    for chunk in chunks:
        yield judge(chunk)


def scan_step(path: Path, scope: ReleaseScope, settings, known, *, chunk_rows: int = CHUNK_ROWS,
              mapper: ChunkMapper | None = None) -> ShareScan:
    from ..scan.readers import iter_cell_chunks

    return tally(str(path), (mapper or in_process)(iter_cell_chunks(path, chunk_rows), settings, known, scope))


def redact_step(path: Path, scan: ShareScan, scope: ReleaseScope, settings, known, *, work_dir: Path,
                chunk_rows: int = CHUNK_ROWS, mapper: ChunkMapper | None = None) -> tuple[Path | None, ShareScan]:
    """A redacted copy of ``path`` in ``work_dir`` (every blocking finding replaced by ``<ENTITY>``), judged
    again; the copy is removed unless it is clean."""
    from ..scan.redact import Redactor, write_redacted_copy

    copy = write_redacted_copy(path, work_dir, scan.plan.of(str(path)), Redactor(), chunk_rows)
    again = scan_step(copy, scope, settings, known, chunk_rows=chunk_rows, mapper=mapper)
    if again.blocked:
        copy.unlink(missing_ok=True)
        return None, again
    return copy, again


def scan_record(decision: ShareDecision, scan: ShareScan, *, file_sha: str, settings_sha: str, key: str,
                redacted_scan: ShareScan | None = None, outcome: str) -> dict:
    """The record kept beside a released or quarantined file: no value, only counts and masked previews of
    what blocked (a released file has none)."""
    record = {"share_key": key, "outcome": outcome, "recipient": decision.recipient,
              "decided": {k: v for k, v in decision.to_dict().items() if k != "recipient"},
              "file_sha256": file_sha, "scanner_settings_sha256": settings_sha, "scan": scan.summary(),
              "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if redacted_scan is not None:
        record["redacted_scan"] = redacted_scan.summary()
    if outcome != "released":
        final = redacted_scan or scan
        record["blocking_columns"] = [v.to_dict() for v in final.blocking.verdicts()]
    return record


def place_step(path: Path, decision: ShareDecision, scan: ShareScan, *, file_sha: str, settings_sha: str,
               key: str, share_dir: str | Path, quarantine_dir: str | Path, redacted_copy: Path | None = None,
               redacted_scan: ShareScan | None = None) -> Placement:
    """Release the file (or its clean redacted copy) with its record, or quarantine the original."""
    if redacted_copy is not None:
        released_sha = file_sha256(redacted_copy)
        record = scan_record(decision, scan, file_sha=file_sha, settings_sha=settings_sha, key=key,
                             redacted_scan=redacted_scan, outcome="released")
        record["released_sha256"] = released_sha
        return release(redacted_copy, released_sha, share_dir=share_dir, to=decision.recipient, record=record)
    if not scan.blocked and redacted_scan is None:
        record = scan_record(decision, scan, file_sha=file_sha, settings_sha=settings_sha, key=key,
                             outcome="released")
        return release(path, file_sha, share_dir=share_dir, to=decision.recipient, record=record)
    record = scan_record(decision, scan, file_sha=file_sha, settings_sha=settings_sha, key=key,
                         redacted_scan=redacted_scan, outcome="quarantined")
    return quarantine(path, file_sha, quarantine_dir=quarantine_dir, record=record)


def audit_payload(decision: ShareDecision, *, outcome: str, key: str, file_sha: str, path: Path,
                  scan: ShareScan | None, redacted_scan: ShareScan | None, redact: bool, settings_sha: str | None,
                  actor: str | None = None, flow_run_id: str | None = None) -> dict:
    """The ``share`` audit event: counts and kinds, hashes — no value, preview, name or borrowernumber."""
    d = decision.to_dict()
    payload = {"share_key": key, "outcome": outcome, "recipient_id": decision.recipient,
               "request_sha256": decision.request_sha256, "request_id": decision.request_id,
               "action": decision.action, "decision_outcome": decision.outcome, "clauses": list(decision.clauses),
               "fields": list(decision.fields), "patrons_named": d["patrons_named"],
               "patrons_released": d["patrons_released"], "policy_version": decision.policy_version,
               "policy_sha256": decision.policy_sha256, "file_sha256": file_sha,
               "file_format": path.suffix.lower().lstrip("."), "redact": redact,
               "scanner_settings_sha256": settings_sha}
    if scan is not None:
        payload["scan"] = scan.summary()
    if redacted_scan is not None:
        payload["redacted_scan"] = redacted_scan.summary()
    if actor is not None:
        payload.update(actor=actor, flow_run_id=flow_run_id)
    return payload


def record_step(store_url: str | None, payload: dict) -> int:
    return record_share(store_url, payload)


# ----------------------------------------------------------------------------- all four
def share_file(path: str | Path, *, to: str, request: str | Path, policy: LoadedPolicy | str | None = None,
               ils_url: str | None = None, store_url: str | None = None, share_dir: str | Path | None = None,
               quarantine_dir: str | Path | None = None, redact: bool = False, consent_type: str | None = None,
               settings_file: str | None = None, chunk_rows: int = CHUNK_ROWS, mapper: ChunkMapper | None = None,
               now: dt.datetime | None = None, actor: str | None = None,
               flow_run_id: str | None = None) -> ShareResult:
    """Decide, scan, release or quarantine, record — see the module's text. ``mapper``: how chunks are
    judged (default: in this process; the flow passes one spreading them over Dask workers)."""
    from ..gateway import request_sha256
    from ..policy import load_policy

    to = check_recipient_name(to)
    path = check_share_file(path)
    loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(config.policy_path(policy))
    share_dir = Path(share_dir) if share_dir else default_share_dir()
    quarantine_dir = Path(quarantine_dir) if quarantine_dir else default_quarantine_dir()
    file_sha = file_sha256(path)
    key = share_key(file_sha, request_sha256(load_share_request(request)), to, redact)
    done = recorded_release(store_url, key)
    if done is not None:
        return retried_result(done, path, to, share_dir)
    decision = decide_step(request, loaded, to=to, ils_url=ils_url, store_url=store_url, consent_type=consent_type,
                           now=now)
    if not decision.allowed:
        return refuse(decision, path=path, file_sha=file_sha, key=key, redact=redact, store_url=store_url,
                      actor=actor, flow_run_id=flow_run_id)
    settings, known = load_gate_inputs(ils_url, settings_file)
    settings_sha = settings_sha256(settings)
    scope = release_scope(decision)
    scan = scan_step(path, scope, settings, known, chunk_rows=chunk_rows, mapper=mapper)
    copy = redacted_scan = None
    work_dir = quarantine_dir / f".redacting-{key[:16]}"
    try:
        if redact and scan.blocked:
            copy, redacted_scan = redact_step(path, scan, scope, settings, known, work_dir=work_dir,
                                              chunk_rows=chunk_rows, mapper=mapper)
        placement = place_step(path, decision, scan, file_sha=file_sha, settings_sha=settings_sha, key=key,
                               share_dir=share_dir, quarantine_dir=quarantine_dir, redacted_copy=copy,
                               redacted_scan=redacted_scan)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    payload = audit_payload(decision, outcome=placement.outcome, key=key, file_sha=file_sha, path=path, scan=scan,
                            redacted_scan=redacted_scan, redact=redact, settings_sha=settings_sha, actor=actor,
                            flow_run_id=flow_run_id)
    seq = record_step(store_url, payload)
    return placed_result(decision, placement, path=path, file_sha=file_sha, scan=scan, redacted_scan=redacted_scan,
                         audit_seq=seq)


def refuse(decision: ShareDecision, *, path: Path, file_sha: str, key: str, redact: bool, store_url: str | None,
           actor: str | None = None, flow_run_id: str | None = None) -> ShareResult:
    """The gateway refused: nothing scanned, nothing released; the refusal is recorded."""
    payload = audit_payload(decision, outcome="refused", key=key, file_sha=file_sha, path=path, scan=None,
                            redacted_scan=None, redact=redact, settings_sha=None, actor=actor,
                            flow_run_id=flow_run_id)
    seq = record_step(store_url, payload)
    return ShareResult(outcome="refused", reason=decision.reason, file=str(path), file_sha256=file_sha,
                       recipient=decision.recipient, decision=decision.to_dict(), audit_seq=seq)


def placed_result(decision: ShareDecision, placement: Placement, *, path: Path, file_sha: str, scan: ShareScan,
                  redacted_scan: ShareScan | None, audit_seq: int) -> ShareResult:
    final = redacted_scan or scan
    if placement.outcome == "released":
        reason = ("a redacted copy, clean when scanned again" if redacted_scan is not None else
                  "no patron data but what the decision releases" if scan.permitted.findings else
                  "no patron data found")
    else:
        what = "the redacted copy still holds" if redacted_scan is not None else "the file holds"
        reason = (f"{what} {final.blocking.findings} finding(s) of patron data the decision does "
                  "not release")
    return ShareResult(outcome=placement.outcome, reason=reason, file=str(path), file_sha256=file_sha,
                       recipient=decision.recipient, decision=decision.to_dict(), scan=scan.summary(),
                       redacted_scan=redacted_scan.summary() if redacted_scan is not None else None,
                       path=placement.path, record=placement.record, redacted=redacted_scan is not None,
                       audit_seq=audit_seq, verdicts=[v.to_dict() for v in final.blocking.verdicts()])


def retried_result(event: dict, path: Path, to: str, share_dir: Path) -> ShareResult:
    """A share released before (same file, request, recipient): what was recorded, nothing done again."""
    from .placement import RECORD_SUFFIX, share_target

    target = share_target(path, share_dir, to)
    return ShareResult(outcome="released", reason="released already (a retry: nothing done again)", file=str(path),
                       file_sha256=event["file_sha256"], recipient=to, path=str(target),
                       record=str(target.with_name(target.name + RECORD_SUFFIX)),
                       decision={"outcome": event["decision_outcome"], "clauses": event["clauses"],
                                 "request_sha256": event["request_sha256"]},
                       scan=event.get("scan"), redacted_scan=event.get("redacted_scan"),
                       redacted=event.get("redacted_scan") is not None, retried=True, audit_seq=event["audit_seq"])


