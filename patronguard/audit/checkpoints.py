"""The audit log's Merkle tree (RFC 6962) and its checkpoint files outside the store.

A checkpoint states the log's id, size, head entry hash and Merkle root at
one moment, MAC'd with the audit key; checkpoints are appended to
``var/audit/<log id>.checkpoints`` (one JSON line each, fsync'd), and the
latest head — with the tree's frontier, so the next checkpoint extends it
without rereading the log — is kept in ``<log id>.head.json``, replaced
atomically. ``log.py`` scans, verifies and records; this module only knows
the hashes and the files.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from .errors import AuditLogError, AuditLogTamperedError
from .pin import require_log_id

_sha256 = hashlib.sha256
_blake2b = hashlib.blake2b
EMPTY_ROOT = _sha256(b"").hexdigest()


# ----------------------------------------------------------------------------- Merkle tree (RFC 6962)
def leaf_hash(entry_hash_hex: str) -> bytes:
    return _sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def frontier_root(frontier: list[bytes]) -> str:
    """The RFC 6962 root of a tree given the roots of its perfect subtrees, left to right."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root.hex()


def merkle_root(entry_hashes: list[str]) -> str:
    """Reference RFC 6962 Merkle Tree Hash (recursive definition), for tests and proofs."""
    def mth(items: list[bytes]) -> bytes:
        if len(items) == 1:
            return items[0]
        k = 1 << ((len(items) - 1).bit_length() - 1)
        return node_hash(mth(items[:k]), mth(items[k:]))
    return mth([leaf_hash(h) for h in entry_hashes]).hex() if entry_hashes else EMPTY_ROOT


# ----------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class Checkpoint:
    log_id: str
    tree_size: int
    head_hash: str
    root_hash: str
    legacy: int
    at: str
    mac: str = ""

    def body(self) -> dict:
        return {"log_id": self.log_id, "tree_size": self.tree_size, "head_hash": self.head_hash,
                "root_hash": self.root_hash, "legacy": self.legacy, "at": self.at}

    def expected_mac(self, key: bytes) -> str:
        text = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return _blake2b(text.encode(), key=key, digest_size=32, person=b"pg-audit-ckpt").hexdigest()

    def line(self) -> str:
        return json.dumps(self.body() | {"mac": self.mac}, sort_keys=True, separators=(",", ":"))


def checkpoint_path(log_id: str) -> Path:
    return settings.var_dir() / "audit" / f"{require_log_id(log_id, 'audit log id')}.checkpoints.jsonl"


def head_path(log_id: str) -> Path:
    """The latest checkpoint with its Merkle frontier, so the next checkpoint need not re-read the log."""
    return settings.var_dir() / "audit" / f"{require_log_id(log_id, 'audit log id')}.head.json"


@dataclass(frozen=True)
class Head:
    checkpoint: Checkpoint
    frontier: tuple[str, ...]

    def expected_mac(self, key: bytes) -> str:
        text = json.dumps({"checkpoint": self.checkpoint.line(), "frontier": list(self.frontier)},
                          sort_keys=True, separators=(",", ":"))
        return _blake2b(text.encode(), key=key, digest_size=32, person=b"pg-audit-head").hexdigest()


def _parse_checkpoint(raw: dict) -> Checkpoint:
    return Checkpoint(log_id=str(raw["log_id"]), tree_size=int(raw["tree_size"]), head_hash=str(raw["head_hash"]),
                      root_hash=str(raw["root_hash"]), legacy=int(raw["legacy"]), at=str(raw["at"]),
                      mac=str(raw["mac"]))


def load_head(log_id: str, key: bytes) -> Head | None:
    """The latest checkpoint and frontier, or None if absent or not genuine (then the log is re-read)."""
    path = head_path(log_id)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        head = Head(_parse_checkpoint(raw["checkpoint"]), tuple(str(h) for h in raw["frontier"]))
        frontier = [bytes.fromhex(h) for h in head.frontier]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    cp = head.checkpoint
    if (raw.get("mac") != head.expected_mac(key) or cp.mac != cp.expected_mac(key) or cp.log_id != log_id
            or frontier_root(frontier) != cp.root_hash):
        return None
    return head


def load_checkpoints(path: Path, log_id: str, key: bytes) -> list[Checkpoint]:
    """Every checkpoint in ``path``; AuditLogTamperedError on a forged line or another log's checkpoint."""
    found: list[Checkpoint] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuditLogError(f"{path}: cannot read the checkpoint file ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cp = _parse_checkpoint(json.loads(line))
        except (ValueError, KeyError, TypeError):
            raise AuditLogTamperedError(f"checkpoint file {path} line {number}: not a checkpoint") from None
        if cp.mac != cp.expected_mac(key):
            raise AuditLogTamperedError(f"checkpoint file {path} line {number}: MAC does not verify "
                                        "(forged or altered checkpoint, or another patron-hash key)")
        if cp.log_id != log_id:
            raise AuditLogTamperedError(f"checkpoint file {path} line {number}: belongs to audit log "
                                        f"{cp.log_id}, not this store's {log_id}")
        found.append(cp)
    return found


def _append_checkpoint(path: Path, cp: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(cp.line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _write_head(cp: Checkpoint, frontier: list[bytes], key: bytes) -> None:
    head = Head(cp, tuple(h.hex() for h in frontier))
    path = head_path(cp.log_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # unique per writer
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"checkpoint": json.loads(cp.line()), "frontier": list(head.frontier),
                   "mac": head.expected_mac(key)}, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
