"""The PII map of an ILS as typed data: which table and column holds or points
to patron data, under which Westchester §1 category, linked how, aged by
which date, and exempt when.

The map is data (``koha.yaml``); this module only types and checks it.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..datafiles import load_model
from ..errors import PiiMapError

ColumnRole = Literal["link", "identity", "quasi", "free_text", "staff", "none"]
Category = Literal["a", "b", "c"]
Lifecycle = Literal["history", "identity", "active", "reference"]
ExemptionKind = Literal["legal_hold", "item_still_out", "money_owed", "patron_keeps_history", "guarantor_of_current_patron"]
ExemptionVia = Literal["patron", "item", "loan", "row"]
RetentionAction = Literal["aggregate_then_strip", "strip", "delete", "anonymise_then_delete"]

CATEGORY_NAMES = {
    "a": "materials or information requested or obtained (§1a)",
    "b": "identity: name, address, telephone, email (§1b)",
    "c": "uses of and incidents with library services (§1c)",
}

#: Which ``via`` each exemption kind understands (the contract of the SQL builders).
EXEMPTION_VIAS: dict[str, set[str]] = {
    "legal_hold": {"patron"},
    "item_still_out": {"patron", "item"},
    "money_owed": {"patron", "loan", "row"},
    "patron_keeps_history": {"patron"},
    "guarantor_of_current_patron": {"patron"},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    role: ColumnRole = Field(examples=["identity"])
    note: str | None = None


class LinkCondition(_Strict):
    column: str
    in_: list[str] = Field(alias="in", min_length=1)


class Exemption(_Strict):
    kind: ExemptionKind = Field(examples=["legal_hold"])
    via: ExemptionVia = "patron"

    @model_validator(mode="after")
    def _via_fits_kind(self) -> "Exemption":
        if self.via not in EXEMPTION_VIAS[self.kind]:
            allowed = ", ".join(sorted(EXEMPTION_VIAS[self.kind]))
            raise ValueError(f"exemption {self.kind} cannot be checked via {self.via!r}; use one of: {allowed}")
        return self


class ValueExpr(_Strict):
    """A tiny expression language for warehouse dimensions (data, never eval).

    Exactly one of: ``column`` (a column of the table, ``item.<col>`` or
    ``patron.<col>``), ``value`` (a constant), ``coalesce`` (first non-null of
    columns); ``map`` translates values, ``default`` fills what is unmapped.
    """

    column: str | None = None
    value: str | None = None
    coalesce: list[str] | None = None
    map: dict[str, str] | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "ValueExpr":
        given = [k for k in ("column", "value", "coalesce") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, value or coalesce")
        return self

    def refs(self) -> list[str]:
        return ([self.column] if self.column else []) + (self.coalesce or [])


class AggregateSpec(_Strict):
    """How a row contributes to the statistics warehouse before its patron link goes."""

    event: ValueExpr
    day: str = Field(examples=["issuedate"])
    branch: ValueExpr | None = None
    itemtype: ValueExpr | None = None
    ccode: ValueExpr | None = None
    patron_category: ValueExpr | None = None
    birth_date: str | None = Field(default=None, examples=["patron.dateofbirth"])
    renewals: str | None = None
    amount: str | None = None

    @field_validator("event", "branch", "itemtype", "ccode", "patron_category", mode="before")
    @classmethod
    def _column_shorthand(cls, value):
        return {"column": value} if isinstance(value, str) else value

    def refs(self) -> list[str]:
        out = [self.day] + [r for r in (self.birth_date, self.renewals, self.amount) if r]
        for expr in (self.event, self.branch, self.itemtype, self.ccode, self.patron_category):
            if expr is not None:
                out.extend(expr.refs())
        return out


class TableMap(_Strict):
    description: str
    category: Category | None = Field(default=None, examples=["a"])
    lifecycle: Lifecycle = Field(examples=["history"])
    records: str | None = Field(default=None, examples=["loan_history"])
    optional: bool = False
    key: list[str]
    link: str | None = None
    link_when: LinkCondition | None = None
    identifies: Literal["link", "row"] = "link"
    age: str | None = Field(default=None, examples=["returndate", "patron.dateexpiry"])
    orphans_expire: bool = False   # rows whose patron no longer exists are past retention whatever their age
    exemptions: list[Exemption] = []
    aggregate: AggregateSpec | None = None
    columns: dict[str, ColumnSpec]

    @field_validator("columns", mode="before")
    @classmethod
    def _role_shorthand(cls, value):
        if isinstance(value, dict):
            return {k: {"role": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "TableMap":
        holds_patron_data = self.lifecycle != "reference"
        if holds_patron_data:
            for name in ("category", "link", "age"):
                if getattr(self, name) is None:
                    raise ValueError(f"a {self.lifecycle} table needs '{name}'")
            if self.columns.get(self.link, ColumnSpec(role="none")).role != "link":
                raise ValueError(f"link column {self.link!r} must be classified with role 'link'")
            if not self.age.startswith("patron.") and self.age not in self.columns:
                raise ValueError(f"age column {self.age!r} is not among the table's columns")
        if self.lifecycle in ("history", "identity") and not self.records:
            raise ValueError(f"a {self.lifecycle} table needs 'records' (the record class the policy schedules)")
        if self.lifecycle in ("active", "reference") and self.records:
            raise ValueError(f"a {self.lifecycle} table is not scheduled; remove 'records'")
        for col in self.key:
            if col not in self.columns:
                raise ValueError(f"key column {col!r} is not among the table's columns")
        if self.aggregate:
            for ref in self.aggregate.refs():
                if "." not in ref and ref not in self.columns:
                    raise ValueError(f"aggregate refers to {ref!r}, which is not among the table's columns")
                if "." in ref and ref.split(".", 1)[0] not in ("item", "patron"):
                    raise ValueError(f"aggregate reference {ref!r}: use a column, item.<column> or patron.<column>")
        return self

    @property
    def scheduled(self) -> bool:
        """True if the retention schedule applies to this table."""
        return self.records is not None

    @property
    def age_via_patron(self) -> str | None:
        """The patron column that ages this table's rows, if any."""
        return self.age.split(".", 1)[1] if self.age and self.age.startswith("patron.") else None

    def columns_with(self, *roles: str) -> list[str]:
        return [name for name, spec in self.columns.items() if spec.role in roles]


class RecordClass(_Strict):
    description: str
    actions: list[RetentionAction] = Field(min_length=1)


class PiiMap(_Strict):
    ils: str = Field(examples=["koha"])
    patron_table: str
    patron_key: str
    anonymous_patron_preference: str | None = None
    record_classes: dict[str, RecordClass]
    tables: dict[str, TableMap]

    @model_validator(mode="after")
    def _consistent(self) -> "PiiMap":
        if self.patron_table not in self.tables:
            raise ValueError(f"patron_table {self.patron_table!r} is not mapped under tables")
        for name, table in self.tables.items():
            if table.records and table.records not in self.record_classes:
                raise ValueError(f"table {name}: records {table.records!r} is not declared under record_classes")
        unused = set(self.record_classes) - {t.records for t in self.tables.values()}
        if unused:
            raise ValueError(f"record_classes {sorted(unused)} govern no table")
        for name, table in self.tables.items():
            if table.records and "aggregate_then_strip" in self.record_classes[table.records].actions \
                    and table.aggregate is None:
                raise ValueError(f"table {name}: records {table.records!r} admit aggregate_then_strip, so "
                                 "the table needs an 'aggregate' section")
        return self

    def scheduled_tables(self) -> dict[str, TableMap]:
        return {name: t for name, t in self.tables.items() if t.scheduled}

    def tables_by_record_class(self) -> dict[str, list[str]]:
        """Record class → the tables it governs."""
        out: dict[str, list[str]] = {}
        for name, t in self.scheduled_tables().items():
            out.setdefault(t.records, []).append(name)
        return out


BUILTIN_MAPS = {"koha": Path(__file__).with_name("koha.yaml")}


def load_pii_map(path: str | Path) -> tuple[PiiMap, str]:
    """Load a PII map file; return (map, sha256)."""
    return load_model(path, PiiMap, PiiMapError)


@cache
def builtin_pii_map(name: str = "koha") -> PiiMap:
    """The PII map shipped for ``name`` (``koha``)."""
    try:
        path = BUILTIN_MAPS[name]
    except KeyError:
        raise PiiMapError(f"no built-in PII map for ILS {name!r}; known: {', '.join(BUILTIN_MAPS)}") from None
    return load_pii_map(path)[0]
