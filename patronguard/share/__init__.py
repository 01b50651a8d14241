"""The share gate: an export leaves the library only if the gateway allows the share and the leak scanner
finds in it no patron data but what the decision releases — released into the recipient's folder with
its scan record, or quarantined; every decision in the audit log (counts, never values)."""
from .attribution import PatronIndex
from .decision import AGGREGATE_FIELDS, ShareDecision, check_recipient_name, decide_share, load_share_request
from .gate import (
    CHUNK_ROWS, ChunkMapper, ShareResult, audit_payload, check_share_file, decide_step, default_quarantine_dir,
    default_share_dir, in_process, load_gate_inputs, place_step, placed_result, record_step, redact_step, refuse,
    release_scope, retried_result, scan_step, settings_sha256, share_file,
)
from .judge import ChunkJudge, JudgedChunk, ReleaseScope, ShareScan, judge_chunk, judge_chunk_on_worker, judge_key
from .placement import Placement, file_sha256
from .record import SHARE_EVENT, recorded_release, share_key

__all__ = [
    "AGGREGATE_FIELDS", "CHUNK_ROWS", "audit_payload", "placed_result", "refuse", "retried_result",
    "settings_sha256", "ChunkJudge", "ChunkMapper", "JudgedChunk", "PatronIndex", "Placement",
    "ReleaseScope", "SHARE_EVENT", "ShareDecision", "ShareResult", "ShareScan", "check_recipient_name",
    "check_share_file", "decide_share", "decide_step", "default_quarantine_dir", "default_share_dir",
    "file_sha256", "in_process", "judge_chunk", "judge_chunk_on_worker", "judge_key", "load_gate_inputs",
    "load_share_request", "place_step", "record_step", "recorded_release", "redact_step", "release_scope",
    "scan_step", "share_file", "share_key",
]
