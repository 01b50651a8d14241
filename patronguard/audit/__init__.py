"""The tamper-evident audit log (a hash chain in the store; no patron values)."""
from .chain import GENESIS, AuditEntry, append_event, verify_chain

__all__ = ["GENESIS", "AuditEntry", "append_event", "verify_chain"]
