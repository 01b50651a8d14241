"""External witnesses of the audit log: somewhere else to publish its tree head, so a rollback shows.

The checkpoints (``var/audit``) and the pin (``var/keys/audit``) live on the
machine that runs patronguard; whoever can write there *and* to the store
can roll all three back together and hide a truncation. A **witness** keeps
the tree heads somewhere that attacker cannot rewrite — the Prefect API's
artifact history (:mod:`patronguard.audit.prefect_witness`) is the one
patronguard uses — and ``patronguard audit verify`` checks the log against
every witness it can reach (:mod:`patronguard.audit.witness_check`).

The contract is small:

* ``publish(head)`` records one :class:`TreeHead`; it returns a reference
  (the artifact id) and never rewrites an earlier head;
* ``heads()`` returns every head it holds as :class:`PublishedHead`
  (size, root hash, log id, when), raising :class:`WitnessUnavailableError`
  if it cannot be reached.

A published head carries no patron value: the log's id, its size, its
RFC 6962 root, the hash of its last entry, when it was checkpointed, which
store (a hash of the store's location, as for the pin) and which pin (its
creation time) it was published under, and a MAC under the audit key — so a
head nobody at this library published can be told from a genuine one.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

from .chain import audit_mac_key
from .log import checkpoint
from .pin import load_pin, store_key

HEAD_FORMAT = "patronguard-audit-tree-head/1"
_FIELDS = ("format", "log_id", "tree_size", "root_hash", "head_hash", "at", "store", "pin")


@dataclass(frozen=True)
class TreeHead:
    """One tree head as published: which log, how many entries, their root, under which store and pin."""

    log_id: str
    tree_size: int
    root_hash: str
    head_hash: str
    at: str             # when the head was checkpointed
    store: str          # patronguard.audit.pin.store_key of the store (a hash of its location)
    pin: str            # the ``created`` time of the pin it was published under
    mac: str = ""

    def body(self) -> dict:
        return {"format": HEAD_FORMAT, "log_id": self.log_id, "tree_size": self.tree_size,
                "root_hash": self.root_hash, "head_hash": self.head_hash, "at": self.at, "store": self.store,
                "pin": self.pin}

    def expected_mac(self, key: bytes) -> str:
        text = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), key=key, digest_size=32, person=b"pg-audit-witness").hexdigest()

    def authentic(self, key: bytes) -> bool:
        return self.mac == self.expected_mac(key)

    def record(self) -> dict:
        """The head as a flat record (one table row): every value a string or an integer."""
        return self.body() | {"mac": self.mac}

    @classmethod
    def from_record(cls, raw) -> TreeHead:
        """Parse a published record; ValueError if it is not a patronguard tree head."""
        if not isinstance(raw, dict) or raw.get("format") != HEAD_FORMAT:
            raise ValueError("not a patronguard tree head")
        try:
            values = {name: raw[name] for name in _FIELDS[1:]} | {"mac": raw["mac"]}
        except KeyError as exc:
            raise ValueError(f"tree head without {exc.args[0]}") from None
        size = values["tree_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("tree_size is not a count")
        if not all(isinstance(values[name], str) for name in values if name != "tree_size"):
            raise ValueError("tree head field is not text")
        return cls(**values)

    def describe(self) -> str:
        return f"tree size {self.tree_size:,}, root {self.root_hash[:16]}…"


@dataclass(frozen=True)
class PublishedHead:
    """What a witness holds: a tree head (None if the record is not one), when and where it was published."""

    head: TreeHead | None
    when: str           # when the witness received it (its own clock, e.g. the artifact's creation time)
    ref: str = ""       # the witness's reference (e.g. the Prefect artifact id)
    problem: str = ""   # why the record is not a tree head

    @property
    def tree_size(self) -> int | None:
        return None if self.head is None else self.head.tree_size

    @property
    def root_hash(self) -> str | None:
        return None if self.head is None else self.head.root_hash

    @property
    def log_id(self) -> str | None:
        return None if self.head is None else self.head.log_id


class Witness(Protocol):
    """Somewhere outside this machine's reach that keeps every tree head published to it."""

    name: str

    def publish(self, head: TreeHead) -> str:
        """Record ``head``; return the witness's reference for it."""

    def heads(self) -> list[PublishedHead]:
        """Every head published so far (raises WitnessUnavailableError if unreachable)."""


@dataclass(frozen=True)
class NotConfigured:
    """A kind of witness this installation has not set up (reported, never an error)."""

    name: str
    reason: str


def discover_witnesses() -> list[Witness | NotConfigured]:
    """Every witness kind patronguard knows, configured or not (only the Prefect artifact history today)."""
    from .prefect_witness import prefect_witness

    return [prefect_witness()]


def current_tree_head(store) -> TreeHead | None:
    """Anchor the log's head outside the store (a checkpoint), then return it as a publishable head.

    None while the log is empty. Raises AuditLogTamperedError if the log does not verify against its
    pin and checkpoints: a tampered log's head is never published.
    """
    checkpoint(store)
    key = audit_mac_key()
    pin = load_pin(store.engine.url, key)
    if pin is None or pin.latest_size == 0:
        return None
    latest = pin.latest
    head = TreeHead(log_id=pin.log_id, tree_size=int(latest["tree_size"]), root_hash=str(latest["root_hash"]),
                    head_hash=str(latest["head_hash"]), at=str(latest["at"]), store=store_key(store.engine.url),
                    pin=pin.created)
    return TreeHead(**(head.__dict__ | {"mac": head.expected_mac(key)}))


def publish_tree_head(store, witnesses: list[Witness]) -> tuple[TreeHead | None, list[str]]:
    """Publish the log's current head to ``witnesses``; return it and one line per witness."""
    head = current_tree_head(store)
    if head is None:
        return None, [f"{w.name}: nothing published (the audit log is empty)" for w in witnesses]
    lines = []
    for witness in witnesses:
        ref = witness.publish(head)
        lines.append(f"{witness.name}: published {head.describe()} of audit log {head.log_id} ({ref})")
    return head, lines
