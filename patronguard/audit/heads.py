"""What a witness of the audit log holds and how it is asked (:mod:`.witness` explains witnesses): a published
:class:`TreeHead`, the :class:`PublishedHead` a witness returns, the :class:`Witness` contract, and
:class:`NotConfigured` for a kind of witness this installation has not set up.

Below the witnesses themselves (:mod:`.prefect_witness`) and what discovers, publishes to and checks them
(:mod:`.witness`, :mod:`.witness_check`), so each can import it without importing the others.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

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
