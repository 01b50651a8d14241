"""A library's policy as typed data: its identity, its numbered clauses, its
retention schedule and its access rules (``access:``, see patronguard.gateway).

Everything here is read from ``policy/<library>.yaml``; unknown fields are
errors, every rule cites clauses that the file itself defines.
"""
from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from ..datafiles import Day
from ..gateway.rules import AccessPolicy
from ..ils.piimap import RetentionAction, TableMap

#: what the run does to history the policy deletes and the PII map aggregates (loans, holds): counts it
#: into the statistics warehouse, then deletes it (unless the rule says ``keep_statistics: false``)
AGGREGATE_THEN_DELETE = "aggregate_then_delete"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amendment(_Strict):
    date: Day = Field(examples=["2007-10-17"])
    by: str = Field(examples=["Library Board of Trustees"])
    note: str | None = None


class Adoption(_Strict):
    """Who adopted this version of the policy, and when."""

    library: str = Field(examples=["Westport Library"])
    document: str = Field(examples=["Privacy, Confidentiality and Law Enforcement Request Policy"])
    source: str = Field(examples=["seeds/004_48d3159bfb7e9a2b.txt"])
    version: str = Field(min_length=1, examples=["2024.1"])
    adopted: Day = Field(examples=["2003-05-12"])
    adopted_by: str = Field(examples=["Library Board of Trustees"])
    amended: list[Amendment] = []
    jurisdiction: str | None = Field(default=None, examples=["US-CT"])
    statutes: list[str] = []
    timezone: str = Field(examples=["America/New_York"])

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as America/New_York") from None
        return value


class RetentionRule(_Strict):
    records: str = Field(examples=["loan_history"])
    keep_days: StrictInt = Field(ge=0, le=36500, examples=[30])
    action: RetentionAction = Field(examples=["aggregate_then_strip"])
    clauses: list[str] = Field(min_length=1, examples=[["westport-3"]])
    reason: str = Field(min_length=1, examples=["Loan history is needed only until the item is back and settled."])
    #: with ``action: delete`` of history the PII map aggregates (loans, holds): ``false`` says explicitly
    #: that no statistics are kept, so the rows are deleted without being counted first; absent (or
    #: ``true``), they are counted into the statistics warehouse, then deleted
    keep_statistics: StrictBool | None = Field(default=None, examples=[False])

    @model_validator(mode="after")
    def _statistics_fit_the_action(self) -> "RetentionRule":
        if self.keep_statistics is None:
            return self
        if self.action in ("strip", "anonymise_then_delete"):
            raise ValueError(f"keep_statistics applies to action delete (and aggregate_then_strip, which always "
                             f"keeps them), not to {self.action}; remove it")
        if self.action == "aggregate_then_strip" and not self.keep_statistics:
            raise ValueError("keep_statistics: false contradicts action aggregate_then_strip (which counts the "
                             "rows into the statistics first); use action strip or delete")
        return self

    def action_for(self, table_map: TableMap) -> str:
        """What the run does to a table of this record class: the policy's action, except that a ``delete``
        of rows the PII map knows how to aggregate counts them into the warehouse first
        (``aggregate_then_delete``) unless ``keep_statistics`` is false."""
        if self.action == "delete" and table_map.aggregate is not None and self.keep_statistics is not False:
            return AGGREGATE_THEN_DELETE
        return self.action


class OutOfScope(_Strict):
    """Patron data the library has decided patronguard does not govern, and why (reported and audited every run)."""

    table: str = Field(min_length=1, examples=["local_patron_notes"])
    column: str | None = Field(default=None, examples=["note"])   # None: the whole table
    reason: str = Field(min_length=1, examples=["Kept by the Friends of the Library under their own agreement."])

    def covers(self, table: str, column: str) -> bool:
        return self.table == table and (self.column is None or self.column == column)

    def describe(self) -> str:
        return f"{self.table}.{self.column}" if self.column else f"{self.table} (whole table)"


class RetentionSchedule(_Strict):
    decided_by: str = Field(examples=["Library Director"])
    clauses: list[str] = Field(min_length=1, examples=[["westport-3"]])
    anonymous_patron: Literal["koha_preference", "null"] = Field(examples=["koha_preference"])
    schedule: list[RetentionRule] = Field(min_length=1)
    #: patron data found in the ILS that the schedule deliberately leaves alone
    out_of_scope: list[OutOfScope] = []

    @field_validator("schedule")
    @classmethod
    def _unique_records(cls, rules: list[RetentionRule]) -> list[RetentionRule]:
        seen: set[str] = set()
        for i, rule in enumerate(rules):
            if rule.records in seen:
                raise ValueError(f"records {rule.records!r} is scheduled twice (again at schedule[{i}])")
            seen.add(rule.records)
        return rules


class Clause(_Strict):
    """A numbered clause of the adopted policy text (or of a statute it relies on)."""

    cite: str = Field(examples=["Westport §3"])
    text: str = Field(min_length=1)


class StatisticsRules(_Strict):
    """Disclosure control of anonymised statistics: the least number of distinct patrons a released cell
    counts (a request may raise it, never lower it)."""

    min_patrons_per_cell: StrictInt = Field(ge=2, le=1000, examples=[10])
    clauses: list[str] = Field(min_length=1, examples=[["ct-11-25b"]])


class Policy(_Strict):
    policy: Adoption
    clauses: dict[str, Clause] = Field(min_length=1)
    retention: RetentionSchedule
    #: anonymised statistics' disclosure control; absent: the documented floor of 10 distinct patrons
    statistics: StatisticsRules | None = None
    #: who may be told what (the access gateway); optional so a retention-only policy
    #: still loads, but the gateway refuses to decide under a policy without it.
    access: AccessPolicy | None = None

    @model_validator(mode="after")
    def _citations_resolve(self) -> "Policy":
        cited = list(self.retention.clauses)
        for rule in self.retention.schedule:
            cited.extend(rule.clauses)
        if self.statistics is not None:
            cited.extend(self.statistics.clauses)
        missing = sorted(set(cited) - set(self.clauses))
        if missing:
            raise ValueError(f"retention cites clause(s) {missing} that are not defined under clauses")
        if self.access is not None:
            for i, rule in enumerate(self.access.rules):
                missing = sorted(set(rule.clauses + rule.stricter_than) - set(self.clauses))
                if missing:
                    raise ValueError(f"access.rules[{i}] ({rule.id}) cites clause(s) {missing} "
                                     "that are not defined under clauses")
            missing = sorted(set(self.access.cited_clauses()) - set(self.clauses))
            if missing:
                raise ValueError(f"access.records cites clause(s) {missing} that are not defined under clauses")
            self.access.compiled.bind({cid: clause.cite for cid, clause in self.clauses.items()})
        return self

    @property
    def min_patrons_per_cell(self) -> int:
        from ..stats.rules import DEFAULT_MIN_PATRONS

        return self.statistics.min_patrons_per_cell if self.statistics is not None else DEFAULT_MIN_PATRONS

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.timezone)

    def rule_for(self, records: str) -> RetentionRule:
        for rule in self.retention.schedule:
            if rule.records == records:
                return rule
        raise KeyError(records)

    def cite(self, clause_ids: list[str]) -> list[str]:
        return [self.clauses[c].cite for c in clause_ids]
