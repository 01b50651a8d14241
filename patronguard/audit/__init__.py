"""The tamper-evident audit log: a MAC'd hash chain in the store, RFC 6962 tree heads checkpointed outside it,
its identity and MAC requirement pinned outside it (:mod:`patronguard.audit.pin`), its tree heads published to
external witnesses (:mod:`patronguard.audit.witness`) and re-pinned only deliberately
(:mod:`patronguard.audit.repin`)."""
from .chain import (
    GENESIS, AuditEntry, AuditPayloadError, append_event, audit_mac_key, hashed_patron, verify_chain,
)
from .errors import WitnessRequiredError, WitnessUnavailableError
from .heads import PublishedHead, TreeHead, Witness
from .log import (
    AuditLogError, AuditLogTamperedError, AuditVerification, Checkpoint, checkpoint, checkpoint_path,
    merkle_root, record_event, verify_log,
)
from .pin import load_pin, pin_path
from .report import render_board_report
from .witness import current_tree_head, publish_tree_head
from .witness_check import WitnessCheck, WitnessReport

__all__ = [
    "GENESIS", "AuditEntry", "AuditLogError", "AuditLogTamperedError", "AuditPayloadError", "AuditVerification",
    "Checkpoint", "PublishedHead", "TreeHead", "Witness", "WitnessCheck", "WitnessReport", "WitnessRequiredError",
    "WitnessUnavailableError", "append_event", "audit_mac_key", "checkpoint", "checkpoint_path",
    "current_tree_head", "hashed_patron", "load_pin", "merkle_root", "pin_path", "publish_tree_head",
    "record_event", "render_board_report", "verify_chain", "verify_log",
]
