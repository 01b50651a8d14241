"""The tamper-evident audit log: a MAC'd hash chain in the store, RFC 6962 tree heads checkpointed outside it,
its identity and MAC requirement pinned outside it (:mod:`patronguard.audit.pin`)."""
from .chain import (
    GENESIS, AuditEntry, AuditPayloadError, append_event, audit_mac_key, hashed_patron, verify_chain,
)
from .log import (
    AuditLogError, AuditLogTamperedError, AuditVerification, Checkpoint, checkpoint, checkpoint_path,
    merkle_root, record_event, verify_log,
)
from .pin import load_pin, pin_path
from .report import render_board_report

__all__ = [
    "GENESIS", "AuditEntry", "AuditLogError", "AuditLogTamperedError", "AuditPayloadError", "AuditVerification",
    "Checkpoint", "append_event", "audit_mac_key", "checkpoint", "checkpoint_path", "hashed_patron",
    "load_pin", "merkle_root", "pin_path", "record_event", "render_board_report", "verify_chain", "verify_log",
]
