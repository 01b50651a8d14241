"""The audit log's pin: what the store must not be able to change, kept outside it (in the key directory).

Whoever can write to the store can rewrite ``store_settings.audit_log_id``,
drop the ``entry_mac`` column or null the MACs. So this installation's
expectations about the log are pinned outside the store, in
``var/keys/audit/<store>.pin.json`` (next to the patron-hash key, not next
to the checkpoints in ``var/audit``), one file per store location
(``<store>`` is a hash of the store's normalised URL — configuration, not
store content). The pin holds, MAC'd with the audit MAC key:

* ``log_id`` — the log this store must name; another id means the store
  was altered or replaced;
* ``mac_required`` (always true) and ``legacy`` — how many leading entries
  were written before MACs existed; every later entry must carry a MAC;
* ``first`` — the first checkpointed tree head (size, RFC 6962 root, head
  entry hash);
* ``latest`` — the latest checkpointed tree head, a monotonic counter: the
  checkpoint file in ``var/audit`` must reach at least this size (else it
  was deleted or rolled back), and the log must still hold this head (else
  it was truncated or rewritten).

The pin is written when the log is first checkpointed (trust on first use)
and moved forward with every checkpoint of the default checkpoint file. It
carries no patron value: ids, sizes and hashes only.

Its ``created`` time names the pin: every tree head published to an external
witness (:mod:`patronguard.audit.witness`) carries it, so a pin deleted and
re-created, or rolled back to an older copy, no longer matches the heads the
witnesses hold. Only a deliberate re-pin (:func:`replace_pin`, ``patronguard
audit repin``, when the operator really restored or replaced the store)
starts a new pin whose ``repin`` record (time, reason, previous pin) tells
verification that the heads published under earlier pins are superseded.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..keys import key_dir
from .errors import AuditLogTamperedError

PIN_FORMAT = "patronguard-audit-pin/1"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_log_id(value) -> bool:
    """An audit log id is a lower-case UUID (it becomes a file name: nothing else is accepted)."""
    return isinstance(value, str) and bool(_UUID.match(value))


def require_log_id(value, where: str = "store_settings.audit_log_id") -> str:
    if not is_log_id(value):
        shown = repr(value)[:60]
        raise AuditLogTamperedError(f"{where} is not a UUID ({shown}): the store was altered; the value is "
                                    "never used as a file name, and the log cannot be checked against it")
    return value


def store_location(url) -> str:
    """The store's normalised location (no password): the key its pin is filed under."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        where = database if database in ("", ":memory:") else str(Path(database).resolve())
        return f"sqlite:///{where}"
    return f"{backend}://{url.username or ''}@{url.host or ''}:{url.port or ''}/{url.database or ''}"


def store_key(url) -> str:
    return hashlib.sha256(b"patronguard audit pin:" + store_location(url).encode()).hexdigest()[:32]


def pin_dir() -> Path:
    return key_dir() / "audit"


def pin_path(url) -> Path:
    return pin_dir() / f"{store_key(url)}.pin.json"


def tree_head(tree_size: int, root_hash: str, head_hash: str, at: str) -> dict:
    return {"tree_size": int(tree_size), "root_hash": str(root_hash), "head_hash": str(head_hash), "at": str(at)}


@dataclass(frozen=True)
class Pin:
    store: str
    log_id: str
    mac_required: bool
    legacy: int
    first: dict
    latest: dict
    created: str
    mac: str = ""
    #: set by a deliberate re-pin: {"at", "reason", "entry", "previous": {log_id, tree_size, root_hash, created}}
    repin: dict | None = None

    def body(self) -> dict:
        body = {"format": PIN_FORMAT, "store": self.store, "log_id": self.log_id, "mac_required": self.mac_required,
                "legacy": self.legacy, "first": self.first, "latest": self.latest, "created": self.created}
        if self.repin is not None:                     # absent from pins never re-pinned (their MACs stay valid)
            body["repin"] = self.repin
        return body

    def expected_mac(self, key: bytes) -> str:
        text = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), key=key, digest_size=32, person=b"pg-audit-pin").hexdigest()

    @property
    def latest_size(self) -> int:
        return int(self.latest["tree_size"])


def load_pin(url, key: bytes) -> Pin | None:
    """This store's pin; None if there is none yet; AuditLogTamperedError if it is not genuine."""
    path = pin_path(url)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditLogTamperedError(f"{path}: cannot read the audit log's pin ({exc.strerror})") from None
    try:
        raw = json.loads(text)
        pin = Pin(store=str(raw["store"]), log_id=str(raw["log_id"]), mac_required=bool(raw["mac_required"]),
                  legacy=int(raw["legacy"]), created=str(raw["created"]), mac=str(raw["mac"]),
                  first=tree_head(**{k: raw["first"][k] for k in ("tree_size", "root_hash", "head_hash", "at")}),
                  latest=tree_head(**{k: raw["latest"][k] for k in ("tree_size", "root_hash", "head_hash", "at")}),
                  repin=_repin_record(raw.get("repin")))
        genuine = raw.get("format") == PIN_FORMAT and pin.mac == pin.expected_mac(key)
    except (ValueError, KeyError, TypeError):
        genuine = False
    if not genuine:
        raise AuditLogTamperedError(f"{path}: the audit log's pin does not verify (forged or altered, or another "
                                    "patron-hash key)")
    if pin.store != store_key(url) or not is_log_id(pin.log_id):
        raise AuditLogTamperedError(f"{path}: the audit log's pin belongs to another store")
    return pin


def _repin_record(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("at"), str) or not isinstance(value.get("reason"), str):
        raise ValueError("repin record")
    return value


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:                                    # not POSIX: no lock (the pin stays a lower bound)
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write(path: Path, pin: Pin) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(pin.body() | {"mac": pin.mac}, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def mismatch_message(store_log_id: str, pin: Pin, url) -> str:
    return (f"the store names audit log {store_log_id} but this installation's log is {pin.log_id} "
            f"(pinned in {pin_path(url)}): the store was altered or replaced")


def advance_pin(url, log_id: str, head: dict, legacy: int, key: bytes) -> Pin:
    """Create this store's pin (first checkpoint) or move its latest head forward; never backwards."""
    path = pin_path(url)
    with _locked(path):
        current = load_pin(url, key)
        if current is None:
            now = _now()
            pin = Pin(store=store_key(url), log_id=require_log_id(log_id), mac_required=True, legacy=int(legacy),
                      first=dict(head), latest=dict(head), created=now)
        elif current.log_id != log_id:
            raise AuditLogTamperedError(mismatch_message(log_id, current, url))
        elif int(head["tree_size"]) <= current.latest_size:
            return current
        else:
            pin = Pin(**{**current.__dict__, "latest": dict(head), "mac": ""})
        pin = Pin(**{**pin.__dict__, "mac": pin.expected_mac(key)})
        _write(path, pin)
        return pin


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def replace_pin(url, log_id: str, head: dict, legacy: int, key: bytes, *, reason: str, entry: int,
                previous: Pin | None) -> Pin:
    """A deliberate re-pin (``patronguard audit repin``): a new pin for the log the store holds now.

    ``head`` is the verified head of the log (including the audit event of the re-pin, entry ``entry``);
    the pin's ``repin`` record keeps the time, the reason and the pin it replaces, so the tree heads
    witnesses hold from before it count as superseded, not as a rollback.
    """
    path = pin_path(url)
    with _locked(path):
        now = _now()
        before = None if previous is None else {
            "log_id": previous.log_id, "tree_size": previous.latest_size,
            "root_hash": previous.latest["root_hash"], "created": previous.created}
        pin = Pin(store=store_key(url), log_id=require_log_id(log_id), mac_required=True, legacy=int(legacy),
                  first=dict(head), latest=dict(head), created=now,
                  repin={"at": now, "reason": str(reason), "entry": int(entry), "previous": before})
        pin = Pin(**{**pin.__dict__, "mac": pin.expected_mac(key)})
        _write(path, pin)
        return pin
