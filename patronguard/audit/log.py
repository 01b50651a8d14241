"""Verifying the whole audit log, truncation included: RFC 6962 tree heads checkpointed outside the store
(the tree's hashes and the checkpoint files are in ``checkpoints.py``).

The chain (:mod:`patronguard.audit.chain`) catches an edited, deleted,
inserted, reordered or forged entry, but deleting the *last* entries leaves
a shorter chain that is still valid. So the log's head is anchored outside
the store:

* **Tree head.** The entries' hashes are the leaves of an RFC 6962 Merkle
  tree (leaf ``SHA-256(0x00 || entry_hash)``, node ``SHA-256(0x01 || left ||
  right)``, the split at the largest power of two below the size). A tree
  head is ``(tree_size, root_hash, head_hash)`` where ``head_hash`` is the
  chain hash of entry ``tree_size``. The root lets a single entry be proved
  to be in the log (inclusion proof) without handing over the whole log;
  the head hash ties the checkpoint to the chain.
* **Checkpoints.** A checkpoint is a tree head plus the log's id
  (``store_settings.audit_log_id``, made by migration 3), the time and the
  number of legacy (pre-MAC) entries, authenticated with the audit MAC key (a
  BLAKE2b MAC under a key derived from the patron-hash key, which is kept
  outside the store). Checkpoints are appended, one JSON line each (about
  300 bytes), to ``var/audit/<audit_log_id>.checkpoints.jsonl`` — outside the
  store, so whoever can edit the store cannot roll the anchor back with it.
  The latest one is also kept in ``var/audit/<audit_log_id>.head.json`` with
  the Merkle *frontier* (the roots of the perfect subtrees, at most log2 n
  hashes, MAC'd), so the next checkpoint reads only the newer entries. Keep a
  copy of the checkpoints elsewhere too (the Board report prints the latest
  tree head; ``audit verify --checkpoints FILE`` checks against any copy).
* **When.** :func:`record_event` appends an event and then checkpoints;
  :func:`checkpoint` anchors the current head after any caller's transaction
  has committed (a checkpoint is never written inside a transaction that
  could roll back: it would then claim entries that do not exist);
  :func:`verify_log` checkpoints the head it has just verified.

* **Pin.** The store can be rewritten wholesale by whoever writes to it (a new
  ``audit_log_id`` orphans the checkpoints; a dropped ``entry_mac`` column or
  nulled MACs would pass as a pre-MAC log). So the log's id, the MAC
  requirement (with the count of pre-MAC entries), the first and the latest
  tree head are pinned in ``var/keys/audit/<store>.pin.json``
  (:mod:`patronguard.audit.pin`), read *before* the store. The log id must
  be a UUID (it names files). The checkpoint file must reach the pinned
  latest head: a deleted or rolled-back checkpoint file is reported.

:func:`verify_log` streams the log once, checks every entry's sequence
number, chain link, hash and MAC, recomputes the tree, and compares the head
at every checkpointed size. The first failure names the entry: a missing
(``deleted``), out-of-place (``reordered``), altered (``edited``) or
unauthenticated (``forged``) entry, or — when the log ends before a
checkpoint's size — the first missing entry (``truncated``). Entries
appended after the last checkpoint and then removed cannot be detected by
anything kept in the same place: checkpoint often.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .chain import AuditEntry, append_event
from .checkpoints import (  # noqa: F401 (re-exported: the tree and checkpoint files live there)
    EMPTY_ROOT, Checkpoint, Head, _append_checkpoint, _parse_checkpoint, _write_head, checkpoint_path, frontier_root,
    head_path, leaf_hash, load_checkpoints, load_head, merkle_root, node_hash,
)
from .errors import AuditLogError, AuditLogTamperedError
from .hashing import GENESIS, audit_mac_key
from .pin import Pin, advance_pin, load_pin, mismatch_message, pin_path, require_log_id, tree_head
from .scan import ScanResult, scan_entries

LOG_ID_SETTING = "audit_log_id"


def _record(path: Path, log_id: str, scan: ScanResult, key: bytes, *, store=None) -> Checkpoint:
    """Append a checkpoint of the scanned head to ``path`` and make it the latest head (with its frontier).

    With ``store``, and ``path`` the default checkpoint file, the store's pin (outside the store) is then
    created or moved forward: written last, it never claims more than the checkpoint file holds.
    """
    cp = _new_checkpoint(log_id, scan, key)
    _append_checkpoint(path, cp)
    if path == checkpoint_path(log_id):
        current = load_head(log_id, key)
        if current is None or current.checkpoint.tree_size < cp.tree_size:
            _write_head(cp, scan.frontier, key)
        if store is not None:
            _advance_pin(store, cp, key)
    return cp


def _advance_pin(store, cp: Checkpoint, key: bytes) -> Pin:
    return advance_pin(store.engine.url, cp.log_id, tree_head(cp.tree_size, cp.root_hash, cp.head_hash, cp.at),
                       cp.legacy, key)


def _pin_anchors(pin: Pin | None, log_id: str, known: list[Checkpoint]) -> list[Checkpoint]:
    """The pin's first and latest tree heads as checkpoints (those no checkpoint already states)."""
    if pin is None:
        return []
    have = {(c.tree_size, c.head_hash, c.root_hash) for c in known}
    out = []
    for name, head in (("first", pin.first), ("latest", pin.latest)):
        triple = (int(head["tree_size"]), head["head_hash"], head["root_hash"])
        if triple not in have and triple[0] > 0:
            have.add(triple)
            out.append(Checkpoint(log_id=log_id, tree_size=triple[0], head_hash=triple[1], root_hash=triple[2],
                                  legacy=pin.legacy, at=f"{head['at']} (pinned {name} head)"))
    return out


def has_mac_column(conn: Connection, table: str) -> bool:
    """Whether the live table (not the copy reflected when the store was opened) has ``entry_mac``."""
    return any(col["name"] == "entry_mac" for col in sa.inspect(conn).get_columns(table))


MAC_COLUMN_MISSING = ("audit_events.entry_mac is missing: the column was dropped (migration 3 adds it and "
                      "this installation requires a MAC on every entry), so the entries cannot be authenticated")


# ----------------------------------------------------------------------------- the log as a whole
@dataclass
class AuditVerification:
    ok: bool
    first_bad_seq: int | None
    problem: str | None
    entries: int
    head_hash: str
    root_hash: str
    checkpoints: int = 0
    checkpoint_file: str | None = None
    latest_checkpoint: dict | None = None
    legacy_entries: int = 0
    recorded_checkpoint: bool = False
    notes: list[str] = field(default_factory=list)
    #: what was actually checked, in words (the Board report lists these; nothing else is claimed)
    checks: list[str] = field(default_factory=list)
    macs_checked: int = 0
    mac_checking: bool = False          # True only if the entry_mac column was present and read
    pin_file: str | None = None
    pin_found: bool = False

    def summary(self) -> str:
        if self.ok:
            return (f"audit log intact: {self.entries:,} entries, tree root {self.root_hash}, "
                    f"{self.checkpoints} checkpoint(s) matched")
        where = f"first bad entry {self.first_bad_seq}: " if self.first_bad_seq is not None else ""
        return f"audit log NOT intact: {where}{self.problem}"


def audit_log_id(conn: Connection, tables: dict[str, sa.Table]) -> str:
    """The store's audit log id: must be present and a UUID (it names the checkpoint files)."""
    settings_table = tables.get("store_settings")
    value = None
    if settings_table is not None:
        value = conn.execute(sa.select(settings_table.c.value)
                             .where(settings_table.c.name == LOG_ID_SETTING)).scalar()
    if not value:
        raise AuditLogTamperedError(f"store_settings.{LOG_ID_SETTING} is missing: the audit log's identity was "
                                    "removed, so its checkpoints cannot be found")
    return require_log_id(value, f"store_settings.{LOG_ID_SETTING}")


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_checkpoint(log_id: str, scan: ScanResult, key: bytes) -> Checkpoint:
    cp = Checkpoint(log_id=log_id, tree_size=scan.entries, head_hash=scan.head_hash, root_hash=scan.root_hash,
                    legacy=scan.legacy, at=_now_iso())
    return Checkpoint(**(cp.body() | {"mac": cp.expected_mac(key)}))


def _refused(problem: str, *, checks: list[str], pin: Pin | None, pin_file: str, path: Path | None = None,
             mac_checking: bool = False) -> AuditVerification:
    return AuditVerification(False, None, problem, 0, GENESIS, EMPTY_ROOT,
                             checkpoint_file=None if path is None else str(path), checks=checks,
                             pin_file=pin_file, pin_found=pin is not None, mac_checking=mac_checking)


def verify_log(store, *, checkpoints: Path | str | None = None, record: bool = True,
               table: str = "audit_events", witness_check=None) -> AuditVerification:
    """Verify every entry against the pin and the checkpoints outside the store; name what is wrong.

    Reads the store's pin first (``var/keys/audit/<store>.pin.json``, see :mod:`patronguard.audit.pin`):
    the store must name the pinned log, keep its ``entry_mac`` column and carry a MAC on every entry after
    the pinned legacy ones, and still hold the pinned tree heads; the default checkpoint file must reach
    the pinned latest head (else it was deleted or rolled back).

    ``checkpoints``: a checkpoint file (default ``var/audit/<log id>.checkpoints.jsonl``).
    ``record``: after a successful check, checkpoint the verified head (if it grew) and advance the pin.
    ``witness_check``: ``f(store, result) -> [problems]`` comparing the log with the tree heads external
    witnesses hold (:class:`patronguard.audit.witness_check.WitnessCheck`), run before anything is written.
    Nothing is written when the check fails.
    """
    key = audit_mac_key()
    url = store.engine.url
    pinfile = str(pin_path(url))
    checks: list[str] = []
    pin = load_pin(url, key)            # raises if the pin itself is forged
    checks.append(f"pin {pinfile} found and its MAC verified" if pin is not None else
                  f"no pin at {pinfile}: log identity and MAC requirement not pinned yet (trust on first use)")
    with store.engine.connect() as conn:
        log_id = audit_log_id(conn, store.tables)
        if pin is not None:
            if pin.log_id != log_id:
                return _refused(mismatch_message(log_id, pin, url), checks=checks, pin=pin, pin_file=pinfile)
            checks.append(f"the store names the pinned audit log {log_id}")
        if not has_mac_column(conn, table) or "entry_mac" not in store[table].c:
            checks.append("entry MACs NOT checked: the entry_mac column is missing")
            return _refused(MAC_COLUMN_MISSING, checks=checks, pin=pin, pin_file=pinfile)
        default_path = checkpoint_path(log_id)
        path = Path(checkpoints) if checkpoints is not None else default_path
        if checkpoints is not None and not path.is_file():
            raise AuditLogError(f"{path}: no such checkpoint file")
        try:
            from_file = load_checkpoints(path, log_id, key) if path.is_file() else []
        except AuditLogTamperedError as exc:
            checks.append(f"checkpoint file {path}: a checkpoint's MAC or log id did not verify")
            return _refused(str(exc), checks=checks, pin=pin, pin_file=pinfile, path=path, mac_checking=True)
        anchors = list(from_file)
        if checkpoints is None:
            head = load_head(log_id, key)
            if head is not None and head.checkpoint not in anchors:
                anchors.append(head.checkpoint)
        anchors += _pin_anchors(pin, log_id, anchors)
        if pin is not None:
            legacy_limit = pin.legacy
        else:
            legacy_limit = min((c.legacy for c in anchors), default=None)
        scan = scan_entries(conn, store[table], checkpoints=anchors, mac_key=key, legacy_limit=legacy_limit)
    latest = max(anchors, key=lambda c: c.tree_size, default=None)
    result = AuditVerification(
        ok=scan.first_bad_seq is None, first_bad_seq=scan.first_bad_seq, problem=scan.problem,
        entries=scan.entries, head_hash=scan.head_hash, root_hash=scan.root_hash,
        checkpoints=scan.checkpoints_matched, checkpoint_file=str(path),
        latest_checkpoint=None if latest is None else latest.body(),
        legacy_entries=scan.legacy, checks=checks, macs_checked=scan.macs_checked, mac_checking=True,
        pin_file=pinfile, pin_found=pin is not None,
    )
    problems = [] if result.ok else [scan.problem]
    if result.ok and latest is not None and latest.tree_size > scan.entries:
        result.first_bad_seq = scan.entries + 1
        problems.append(f"truncated: the log ends at entry {scan.entries} but the checkpoint of {latest.at} "
                        f"recorded {latest.tree_size} entries; entries {scan.entries + 1}–{latest.tree_size} "
                        "were removed")
    if legacy_limit is not None:
        checks.append(f"entry MACs checked: {scan.macs_checked:,} entries' MACs verified; a MAC is required on "
                      f"every entry after the first {legacy_limit} (pre-MAC) entries"
                      f"{' (pinned)' if pin is not None else ' (from the checkpoints)'}")
    else:
        checks.append(f"entry MACs checked: {scan.macs_checked:,} entries' MACs verified; {scan.legacy} leading "
                      "entries without a MAC accepted as legacy, attested by no pin or checkpoint")
    checks.append(f"{len(from_file)} checkpoint(s) read from {path}, each MAC verified; {scan.checkpoints_matched} "
                  "tree head(s) (checkpoints, head file, pin) compared with the log")
    if pin is not None and checkpoints is None:
        have = max((c.tree_size for c in from_file), default=None)
        if have is None:
            problems.append(f"the checkpoint file {path} is missing, but the pin records {pin.latest_size} "
                            "checkpointed entries: the checkpoint file was deleted")
        elif have < pin.latest_size:
            problems.append(f"the checkpoint file {path} ends at tree size {have}, but the pin records "
                            f"{pin.latest_size} checkpointed entries: the checkpoint file was rolled back")
        else:
            checks.append(f"the checkpoint file reaches the pinned latest tree size {pin.latest_size} "
                          "(not deleted or rolled back)")
    if witness_check is not None:
        problems += witness_check(store, result)
    if problems:
        result.ok = False
        result.problem = "; also: ".join(problems)
    if not anchors:
        result.notes.append(f"no checkpoint yet at {path}: truncation before this verification cannot be detected")
    if result.legacy_entries:
        result.notes.append(f"{result.legacy_entries} legacy entries carry no MAC (written before migration 3)")
    if result.ok and record:
        if latest is None or scan.entries > latest.tree_size:
            _record(path, log_id, scan, key, store=store if path == default_path else None)
            result.recorded_checkpoint = True
        elif pin is None and path == default_path and latest is not None and latest in from_file:
            _advance_pin(store, latest, key)          # pin a log checkpointed before pins existed
    return result


def _scan_since_checkpoint(store, table: str):
    """(key, pin, log id, latest head, scan of the entries since it), raising what a checkpoint must refuse:
    a store naming another log than the pinned one, a lost entry_mac column, newer entries that do not
    verify, a log shorter than the pin records."""
    key = audit_mac_key()
    url = store.engine.url
    pin = load_pin(url, key)
    with store.engine.connect() as conn:
        log_id = audit_log_id(conn, store.tables)
        if pin is not None and pin.log_id != log_id:
            raise AuditLogTamperedError(mismatch_message(log_id, pin, url))
        if not has_mac_column(conn, table) or "entry_mac" not in store[table].c:
            raise AuditLogTamperedError(MAC_COLUMN_MISSING)
        head = load_head(log_id, key)
        known = [head.checkpoint] if head is not None else []
        anchors = [c for c in _pin_anchors(pin, log_id, known)
                   if head is None or c.tree_size > head.checkpoint.tree_size]
        legacy_limit = pin.legacy if pin is not None else (head.checkpoint.legacy if head is not None else None)
        scan = scan_entries(conn, store[table], checkpoints=anchors, mac_key=key, resume=head,
                            legacy_limit=legacy_limit)
    if scan.first_bad_seq is not None:
        raise AuditLogTamperedError(f"audit log: first bad entry {scan.first_bad_seq}: {scan.problem}")
    if pin is not None and scan.entries < pin.latest_size:
        raise AuditLogTamperedError(f"audit log: first bad entry {scan.entries + 1}: truncated: the log ends at "
                                    f"entry {scan.entries} but the pin records {pin.latest_size} entries")
    return key, pin, log_id, head, scan


def checkpoint(store, *, table: str = "audit_events") -> Checkpoint | None:
    """Anchor the log's current head outside the store; call after the appending transaction committed.

    Extends the latest checkpoint (reading only newer entries) and advances the store's pin. Returns the
    new checkpoint, or None if the head has not moved. Raises AuditLogTamperedError if the store names
    another log than the pinned one, lost its entry_mac column, or the newer entries do not verify.
    """
    key, pin, log_id, head, scan = _scan_since_checkpoint(store, table)
    if head is not None and scan.entries <= head.checkpoint.tree_size:
        if pin is None:
            _advance_pin(store, head.checkpoint, key)
        return None
    return _record(checkpoint_path(log_id), log_id, scan, key, store=store)


def require_checkpointable(store, *, table: str = "audit_events") -> None:
    """Raise what :func:`checkpoint` would raise now, writing nothing: a run checks before it changes the ILS
    that its audit event can be anchored (the store names the pinned log, has its MAC column, and the entries
    since the latest checkpoint verify)."""
    _scan_since_checkpoint(store, table)


def record_event(store, kind: str, payload: dict, *, table: str = "audit_events") -> AuditEntry:
    """Append one event in its own transaction, then checkpoint the new head outside the store."""
    with store.engine.begin() as conn:
        entry = append_event(conn, store[table], kind, payload)
    checkpoint(store, table=table)
    return entry
