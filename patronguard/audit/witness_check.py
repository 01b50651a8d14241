"""Checking the audit log against the tree heads its external witnesses hold.

For every head a witness holds that concerns this store (its log id, or its
store key), under the current pin:

* a head of size N must equal the log's RFC 6962 root (and last entry hash)
  over its first N entries — else the first N entries were rewritten;
* a head larger than the log means entries were removed after it was
  published: truncation, or a store restored from an older copy — found
  even when the checkpoint files and the pin were rolled back with it;
* a head naming another log id for this store means the store's log was
  replaced.

Heads are tied to the pin they were published under (its creation time).
Heads of an earlier pin count as *superseded* only if the current pin is a
deliberate re-pin (``patronguard audit repin``); otherwise the pin was
deleted and re-created, and that is reported. A head of a later pin than
the current one means the pin was rolled back. Heads of other stores' logs
(a Prefect API shared by several installations) are counted and ignored;
records that are not tree heads are counted and ignored; a head that names
this store or log but whose MAC does not verify is reported (forged).

:class:`WitnessCheck` reads every witness first (:meth:`WitnessCheck.fetch`,
before the log is read), then is passed to
:func:`patronguard.audit.verify_log` as ``witness_check``: its problems make
the verification fail before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from .chain import audit_mac_key
from .errors import WitnessRequiredError, WitnessUnavailableError
from .heads import NotConfigured, PublishedHead, Witness
from .log import audit_log_id, frontier_root, leaf_hash, node_hash
from .pin import Pin, load_pin, pin_path, store_key
from .witness import discover_witnesses

MAX_PROBLEMS_SHOWN = 3


@dataclass
class WitnessReport:
    """What one witness said about the log."""

    witness: str
    status: str = "not compared"    # consistent | NOT consistent | no tree head for this log | not configured |
    #                                 unreachable | not compared (the verification stopped before comparing)
    checked: bool = False
    heads_checked: int = 0
    heads_superseded: int = 0
    heads_other_logs: int = 0
    records_ignored: int = 0
    latest: dict | None = None      # the largest head checked: tree_size, root_hash, published
    problems: list[str] = field(default_factory=list)
    reason: str = ""

    def start(self) -> None:
        """Begin a comparison: checked, consistent until a problem is found, nothing counted yet."""
        self.status, self.checked, self.reason = "consistent", True, ""
        self.heads_checked = self.heads_superseded = self.heads_other_logs = self.records_ignored = 0
        self.latest, self.problems = None, []

    @property
    def consistent(self) -> bool:
        return self.checked and not self.problems

    def line(self) -> str:
        if not self.checked:
            return f"{self.witness}: {self.status}{' — ' + self.reason if self.reason else ''}"
        extra = []
        if self.heads_superseded:
            extra.append(f"{self.heads_superseded} superseded by the re-pin, not checked")
        if self.heads_other_logs:
            extra.append(f"{self.heads_other_logs} of other stores' logs ignored")
        if self.records_ignored:
            extra.append(f"{self.records_ignored} record(s) that are not tree heads ignored")
        tail = f" ({'; '.join(extra)})" if extra else ""
        if self.problems:
            shown = self.problems[:MAX_PROBLEMS_SHOWN]
            more = len(self.problems) - len(shown)
            return (f"{self.witness}: NOT consistent with the log — {'; '.join(shown)}"
                    f"{f' (and {more} more)' if more else ''}{tail}")
        if not self.heads_checked:
            return f"{self.witness}: checked — no tree head published for this log yet{tail}"
        latest = self.latest or {}
        return (f"{self.witness}: {self.heads_checked} published tree head(s) checked, all consistent with the log "
                f"(latest: tree size {latest.get('tree_size', 0):,}, published {latest.get('published', '?')}){tail}")

    def to_dict(self) -> dict:
        return {"witness": self.witness, "status": self.status, "checked": self.checked,
                "consistent": self.consistent, "heads_checked": self.heads_checked,
                "heads_superseded": self.heads_superseded, "heads_other_logs": self.heads_other_logs,
                "records_ignored": self.records_ignored, "latest": self.latest, "problems": list(self.problems),
                "reason": self.reason}


def prefix_roots(conn, table: sa.Table, sizes: set[int]) -> tuple[dict[int, tuple[str, str]], int, int | None]:
    """The log's (RFC 6962 root, last entry hash) over its first N entries, for each N in ``sizes``.

    Reads ``seq, entry_hash`` in order up to the largest size. Returns the roots found, the number of
    consecutive entries read, and the first missing sequence number if entries are not numbered 1, 2, 3 …
    (the log's own verification names edits and forgeries; this only needs the prefixes).
    """
    roots: dict[int, tuple[str, str]] = {}
    if not sizes:
        return roots, 0, None
    limit = max(sizes)
    stmt = sa.select(table.c.seq, table.c.entry_hash).where(table.c.seq <= limit).order_by(table.c.seq)
    frontier: list[bytes] = []
    count = 0
    for seq, digest in conn.execution_options(stream_results=True, max_row_buffer=20_000).execute(stmt):
        if seq != count + 1:
            return roots, count, count + 1
        try:
            node = leaf_hash(digest)
        except (TypeError, ValueError):
            return roots, count, count + 1
        for _ in range(((count ^ (count + 1)) >> 1).bit_length()):
            node = node_hash(frontier.pop(), node)
        frontier.append(node)
        count += 1
        if count in sizes:
            roots[count] = (frontier_root(frontier), digest)
    return roots, count, None


class WitnessCheck:
    """Compare the log with every reachable witness; callable as ``verify_log``'s ``witness_check``."""

    def __init__(self, witnesses: list[Witness | NotConfigured] | None = None, *, require: bool = False) -> None:
        self.witnesses = discover_witnesses() if witnesses is None else list(witnesses)
        self.require = require
        self.reports: list[WitnessReport] = []
        self._held: list[tuple[WitnessReport, list[PublishedHead]]] = []
        self._fetched = False

    def fetch(self) -> WitnessCheck:
        """Read every configured witness's heads (before the log is read, so nothing newer is missed)."""
        self.reports, self._held = [], []
        for witness in self.witnesses:
            if isinstance(witness, NotConfigured):
                self.reports.append(WitnessReport(witness.name, status="not configured", reason=witness.reason))
                continue
            report = WitnessReport(witness.name, status="not compared",
                                   reason="read, but the verification stopped before the log was compared with it")
            try:
                held = witness.heads()
            except WitnessUnavailableError as exc:
                report.status, report.reason = "unreachable", str(exc).removeprefix(f"{witness.name}: ")
                self.reports.append(report)
                continue
            self.reports.append(report)
            self._held.append((report, held))
        self._fetched = True
        if self.require and not self._held:
            reasons = "; ".join(r.line() for r in self.reports) or "no witness is known"
            raise WitnessRequiredError(f"--require-witness: no external witness could be read ({reasons}); "
                                       "the log was not verified and nothing was written")
        return self

    def __call__(self, store, result, *, table: str = "audit_events") -> list[str]:
        """The problems the witnesses show (empty if consistent); fills :attr:`reports` and the result's checks."""
        if not self._fetched:
            self.fetch()
        key = audit_mac_key()
        url = store.engine.url
        pin = load_pin(url, key)
        this_store = store_key(url)
        with store.engine.connect() as conn:
            log_id = audit_log_id(conn, store.tables)
            to_check: list[tuple[WitnessReport, PublishedHead]] = []
            for report, held in self._held:
                report.start()
                for published in held:
                    if self._classify(report, published, log_id, this_store, pin, key, str(pin_path(url))):
                        to_check.append((report, published))
            sizes = {p.head.tree_size for _, p in to_check}
            roots, count, gap = prefix_roots(conn, store[table], sizes)
        for report, published in to_check:
            problem = _compare(published, roots, count, gap)
            report.heads_checked += 1
            if problem is not None:
                report.problems.append(problem)
                if gap is None and published.head.tree_size > count and result.first_bad_seq is None:
                    result.first_bad_seq = count + 1
            if report.latest is None or published.head.tree_size >= report.latest["tree_size"]:
                report.latest = {"tree_size": published.head.tree_size, "root_hash": published.head.root_hash,
                                 "published": published.when}
        problems = []
        for report in self.reports:
            if report.checked:
                if report.problems:
                    report.status = "NOT consistent"
                    problems.append(report.line())
                elif not report.heads_checked:
                    report.status = "no tree head for this log"
                result.checks.append(report.line())
            else:
                result.notes.append(report.line())
        return problems

    @staticmethod
    def _classify(report: WitnessReport, published: PublishedHead, log_id: str, this_store: str,
                  pin: Pin | None, key: bytes, pinfile: str) -> bool:
        """Whether ``published`` is to be compared with the log; counts or reports it otherwise."""
        head = published.head
        if head is None:
            report.records_ignored += 1
            return False
        if head.log_id != log_id and head.store != this_store:
            report.heads_other_logs += 1
            return False
        when = f"published {published.when}"
        if not head.authentic(key):
            report.problems.append(f"the head of {when} ({head.describe()}) names this store or log but its MAC "
                                   "does not verify: a forged record, or published with another patron-hash key")
            return False
        if pin is not None and head.pin != pin.created:
            if head.pin < pin.created and pin.repin is not None:
                report.heads_superseded += 1
                return False
            if head.pin > pin.created:
                report.problems.append(f"the head of {when} was published under a pin created {head.pin}, later "
                                       f"than this installation's pin ({pin.created}, {pinfile}): the pin was "
                                       "rolled back to an older copy")
            else:
                report.problems.append(f"the head of {when} was published under a pin created {head.pin}, but this "
                                       f"installation's pin was created {pin.created} without a re-pin: the pin "
                                       "was deleted and re-created (if the store really was restored or replaced, "
                                       "run `patronguard audit repin`)")
        elif pin is None:
            report.problems.append(f"the head of {when} was published under a pin (created {head.pin}), but there "
                                   f"is no pin at {pinfile}: the pin was deleted")
        if head.log_id != log_id:
            report.problems.append(f"the head of {when} is of audit log {head.log_id} of this store, but the store "
                                   f"now names {log_id}: the store's log was replaced")
            return False
        return True


def _compare(published: PublishedHead, roots: dict, count: int, gap: int | None) -> str | None:
    head = published.head
    size = head.tree_size
    when = f"published {published.when}"
    if size == 0:                                       # the empty tree: nothing to compare
        return None
    if size in roots:
        root, last = roots[size]
        if root == head.root_hash and last == head.head_hash:
            return None
        return (f"the log's first {size:,} entries do not match the tree head {when} (root {head.root_hash[:16]}…, "
                f"the log now gives {root[:16]}…): entries up to {size:,} were rewritten")
    if gap is not None:
        return (f"the tree head {when} covers {size:,} entries but entry {gap} is missing from the log: "
                "entries were deleted")
    return (f"truncated or rolled back: the tree head {when} records {size:,} entries, but the log ends at entry "
            f"{count:,}; entries {count + 1:,}–{size:,} were removed")
