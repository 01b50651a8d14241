"""A deliberate, audited re-pin: the operator really restored or replaced the store.

The pin (:mod:`patronguard.audit.pin`), the checkpoints and the witnesses
exist to refuse a store whose log went backwards or changed identity. When
that happened on purpose — the store restored from a backup, moved to a new
database URL, or replaced by a new one — ``patronguard audit repin --reason
… --yes`` accepts the store's log as it is now:

1. the log must verify on its own (sequence, chain, hashes, a MAC on every
   entry): a re-pin accepts a restored or replaced store, never an edited
   or forged log;
2. an ``audit-repinned`` event is appended to the log (the reason, the old
   pin's log id, size and root, the log's size and root before the event);
3. the old checkpoint and head files of this log id are kept aside
   (``….superseded-<time>``) — they describe a log that no longer exists;
4. a new pin is written for the log's head (with the event), recording the
   time, the reason and the pin it replaces; the new head is checkpointed;
5. the head is published to every configured witness; the heads they hold
   from before the re-pin are then reported as superseded, not as a rollback.

Nothing is written if step 1 fails. The key directory must be writable and
the audit key must be the one the log was written with.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .chain import append_event, audit_mac_key
from .errors import AuditLogTamperedError
from .heads import NotConfigured, Witness
from .log import MAC_COLUMN_MISSING, audit_log_id, checkpoint, checkpoint_path, has_mac_column, head_path
from .pin import Pin, load_pin, pin_path, replace_pin, tree_head
from .scan import scan_entries
from .witness import publish_tree_head

REPIN_EVENT = "audit-repinned"
REASON_MAX = 300


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InputError("--reason: say why the store's log is re-pinned (e.g. 'store restored from the "
                         "2026-03-01 backup after disk failure, ticket 4411')")
    if len(text) > REASON_MAX or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(f"--reason: one line of at most {REASON_MAX} printable characters (no patron data)")
    return text


def _pin_words(pin: Pin | None, problem: str | None = None) -> str:
    if problem:
        return f"not genuine ({problem})"
    if pin is None:
        return "none"
    return (f"log {pin.log_id}, tree size {pin.latest_size:,}, root {pin.latest['root_hash']}, "
            f"created {pin.created}{' (a re-pin)' if pin.repin else ''}")


@dataclass
class Repin:
    """What a re-pin found, and (once done) what it wrote."""

    store: str
    pin_file: str
    log_id: str
    entries: int
    root_hash: str
    old_pin: Pin | None
    old_pin_problem: str | None
    reason: str = ""
    new_pin: Pin | None = None
    entry: int | None = None
    archived: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"store:   {self.store}",
               f"log:     {self.log_id}, {self.entries:,} entries verified (chain, hashes, MACs), "
               f"root {self.root_hash}",
               f"old pin: {_pin_words(self.old_pin, self.old_pin_problem)}"]
        if self.new_pin is None:
            out.append(f"new pin: would pin log {self.log_id} at tree size {self.entries + 1:,} (this log plus the "
                       f"{REPIN_EVENT} event), in {self.pin_file}")
            return out
        out.append(f"new pin: {_pin_words(self.new_pin)}")
        out.append(f"audit event: entry {self.entry} ({REPIN_EVENT}), reason: {self.reason}")
        out += [f"kept aside: {path}" for path in self.archived]
        out += [f"witness: {line}" for line in self.published]
        return out


def plan_repin(store, *, table: str = "audit_events") -> Repin:
    """Read the old pin and verify the log on its own; write nothing. Raises if the log does not verify."""
    key = audit_mac_key()
    url = store.engine.url
    try:
        old, problem = load_pin(url, key), None
    except AuditLogTamperedError as exc:
        old, problem = None, str(exc)
    with store.engine.connect() as conn:
        log_id = audit_log_id(conn, store.tables)
        if not has_mac_column(conn, table) or "entry_mac" not in store[table].c:
            raise AuditLogTamperedError(f"not re-pinned: {MAC_COLUMN_MISSING}")
        legacy = old.legacy if old is not None and old.log_id == log_id else None
        scan = scan_entries(conn, store[table], mac_key=key, legacy_limit=legacy)
    if scan.first_bad_seq is not None:
        raise AuditLogTamperedError(f"not re-pinned: the log itself does not verify — first bad entry "
                                    f"{scan.first_bad_seq}: {scan.problem}. A re-pin accepts a restored or "
                                    "replaced store whose own entries verify, never an edited or forged log")
    return Repin(store=store.url, pin_file=str(pin_path(url)),
                 log_id=log_id, entries=scan.entries, root_hash=scan.root_hash, old_pin=old, old_pin_problem=problem)


def _set_aside(path: Path, stamp: str) -> str | None:
    if not path.exists():
        return None
    target = path.with_name(f"{path.name}.superseded-{stamp}")
    path.replace(target)
    return str(target)


def repin(store, reason: str, *, witnesses: list[Witness | NotConfigured] = (),
          table: str = "audit_events") -> Repin:
    """Re-pin the store's log as it is now (see the module docstring); return what was done."""
    reason = check_reason(reason)
    plan = plan_repin(store, table=table)
    key = audit_mac_key()
    old = plan.old_pin
    payload = {
        "reason": reason, "log_id": plan.log_id, "tree_size_before": plan.entries, "root_hash_before": plan.root_hash,
        "previous_pin": None if old is None else {
            "log_id": old.log_id, "tree_size": old.latest_size, "root_hash": old.latest["root_hash"],
            "created": old.created},
        "previous_pin_problem": plan.old_pin_problem,
    }
    with store.engine.begin() as conn:
        entry = append_event(conn, store[table], REPIN_EVENT, payload)
    with store.engine.connect() as conn:
        legacy = old.legacy if old is not None and old.log_id == plan.log_id else None
        scan = scan_entries(conn, store[table], mac_key=key, legacy_limit=legacy)
    if scan.first_bad_seq is not None:                      # someone wrote to the log in between
        raise AuditLogTamperedError(f"not re-pinned: first bad entry {scan.first_bad_seq}: {scan.problem}")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    plan.archived = [p for p in (_set_aside(checkpoint_path(plan.log_id), stamp),
                                 _set_aside(head_path(plan.log_id), stamp)) if p]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    plan.new_pin = replace_pin(store.engine.url, plan.log_id,
                               tree_head(scan.entries, scan.root_hash, scan.head_hash, now), scan.legacy, key,
                               reason=reason, entry=entry.seq, previous=old)
    checkpoint(store, table=table)
    plan.reason, plan.entry = reason, entry.seq
    reachable = [w for w in witnesses if not isinstance(w, NotConfigured)]
    plan.published = [f"{w.name}: not configured ({w.reason}); nothing published"
                      for w in witnesses if isinstance(w, NotConfigured)]
    for witness in reachable:
        try:
            _, lines = publish_tree_head(store, [witness])
        except Exception as exc:  # noqa: BLE001 - the re-pin is done; say the witness did not get the head
            lines = [f"{witness.name}: NOT published ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                     "the next flow run publishes it"]
        plan.published += lines
    return plan
