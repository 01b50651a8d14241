"""Rows a purge or a retention run changed, for the Board report: summed from every table its audit event names.

* ``purge``: ``counts`` is ``{table: {deleted, stripped, anonymised, staff_links_cleared, aggregated,
  scrubbed}}`` (:mod:`patronguard.retention.purge`); an older event's bare ``{table: n}`` is counted as
  rows changed of an unrecorded kind;
* ``retention-run``: ``tables`` is one outcome per table, the side deletions of removed patrons included
  (:func:`patronguard.retention.engine.outcomes`);
* ``retention-recovered``: ``runs[].batches[].counts`` per table, for the batches a killed run finished
  (:mod:`patronguard.retention.batchaudit`).

What a row change is: deleted (a patron record is blanked, then deleted — counted once), de-identified
(its patron link stripped), or a staff link cleared. ``aggregated`` (counted into the statistics
warehouse first) and ``scrubbed`` (free text cleaned) describe rows already counted there, so they are
never added to the total (the report shows ``aggregated`` beside it).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .report_labels import patron_table


def short(value, n: int = 12) -> str:
    text = "" if value is None else str(value)
    return text[:n] + "…" if len(text) > n else text


def count_of(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def scope_as_written(scope) -> str:
    """A purge scope as the Director writes it: ``older-than:365``, or ``patron:`` and the patron's keyed
    hash (the event never holds the patron's number). An older event's text scope is shown as it is."""
    if isinstance(scope, str):
        return scope
    if not isinstance(scope, dict):
        return "—"
    kind = str(scope.get("kind") or "")
    days = scope.get("days")
    if kind == "older_than" and isinstance(days, int) and not isinstance(days, bool):
        return f"older-than:{days}"
    if kind == "patron":
        digest = scope.get("patron_hash")
        return f"patron:{short(digest)}" if digest else "patron:(not recorded)"
    return kind.replace("_", "-") or "—"


# ----------------------------------------------------------------------------- row counts
@dataclass
class RowCounts:
    """One table's counts, summed over batches or events."""
    deleted: int = 0
    stripped: int = 0
    staff_links_cleared: int = 0
    anonymised: int = 0
    aggregated: int = 0
    scrubbed: int = 0
    unspecified: int = 0        # an older event's bare number for the table

    def add(self, counts) -> None:
        if isinstance(counts, dict):
            for f in fields(self):
                setattr(self, f.name, getattr(self, f.name) + count_of(counts.get(f.name)))
        else:
            self.unspecified += count_of(counts)

    def merge(self, other: RowCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def removed(self) -> int:
        """Rows gone: a patron record is blanked ("anonymised") and then deleted — one row, counted once."""
        return max(self.deleted, self.anonymised)

    @property
    def changed(self) -> int:
        return self.removed + self.stripped + self.staff_links_cleared + self.unspecified


@dataclass
class Tally:
    """Row counts per ILS table, with the totals the Board reads."""
    tables: dict[str, RowCounts] = field(default_factory=dict)

    def add(self, table, counts) -> None:
        self.tables.setdefault(str(table), RowCounts()).add(counts)

    def add_nested(self, counts) -> None:
        """``{table: {what: n}}`` (or an older ``{table: n}``)."""
        for table, per_table in (counts.items() if isinstance(counts, dict) else ()):
            self.add(table, per_table)

    def merge(self, other: Tally) -> None:
        for table, counts in other.tables.items():
            self.tables.setdefault(table, RowCounts()).merge(counts)

    def _sum(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.tables.values())

    @property
    def patrons_removed(self) -> int:
        counts = self.tables.get(patron_table())
        return counts.removed if counts else 0

    @property
    def other_deleted(self) -> int:
        patrons = patron_table()
        return sum(c.removed for t, c in self.tables.items() if t != patrons)

    @property
    def stripped(self) -> int:
        return self._sum("stripped")

    @property
    def staff_links_cleared(self) -> int:
        return self._sum("staff_links_cleared")

    @property
    def aggregated(self) -> int:
        return self._sum("aggregated")

    @property
    def unspecified(self) -> int:
        return self._sum("unspecified")

    @property
    def total(self) -> int:
        return sum(c.changed for c in self.tables.values())

    def rows(self) -> list[tuple[str, RowCounts]]:
        """Tables with a change (or a count), most rows changed first."""
        return sorted(((t, c) for t, c in self.tables.items() if c.changed or c.aggregated or c.scrubbed),
                      key=lambda tc: (-tc[1].changed, tc[0]))
