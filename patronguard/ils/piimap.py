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

ColumnRole = Literal["link", "identity", "quasi", "free_text", "staff", "pseudonym", "none"]
Category = Literal["a", "b", "c"]
Lifecycle = Literal["history", "identity", "active", "owned", "child", "reference"]
ExemptionKind = Literal["legal_hold", "item_still_out", "money_owed", "patron_keeps_history",
                        "guarantor_of_current_patron", "still_open"]
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
    "still_open": {"row"},
}

#: Link targets that are not the patron key but still resolve to a patron (``link_to``).
PSEUDONYM = "pseudonym"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    role: ColumnRole = Field(examples=["identity"])
    note: str | None = None


class LinkCondition(_Strict):
    column: str
    in_: list[str] = Field(alias="in", min_length=1)


class RowCondition(_Strict):
    """A test on one column of the row (data, never eval): exactly one of ``in``,
    ``not_in``, ``is_null`` or ``today_or_later``."""

    column: str = Field(examples=["STATUS"])
    in_: list[str] | None = Field(default=None, alias="in", min_length=1, examples=[["ASKED", "CHECKED"]])
    not_in: list[str] | None = Field(default=None, min_length=1)
    is_null: Literal[True] | None = None
    today_or_later: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "RowCondition":
        given = [k for k in ("in_", "not_in", "is_null", "today_or_later") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of in, not_in, is_null: true or today_or_later: true")
        return self


class Exemption(_Strict):
    kind: ExemptionKind = Field(examples=["legal_hold"])
    via: ExemptionVia | None = None
    #: still_open only: the row is an open transaction when any of these holds
    when: list[RowCondition] | None = None

    @model_validator(mode="after")
    def _via_fits_kind(self) -> "Exemption":
        via = self.via or ("row" if self.kind == "still_open" else "patron")
        object.__setattr__(self, "via", via)
        if via not in EXEMPTION_VIAS[self.kind]:
            allowed = ", ".join(sorted(EXEMPTION_VIAS[self.kind]))
            raise ValueError(f"exemption {self.kind} cannot be checked via {via!r}; use one of: {allowed}")
        if (self.kind == "still_open") != bool(self.when):
            raise ValueError("'when' (the conditions of an open transaction) goes with kind still_open, and only there")
        return self


class ParentLink(_Strict):
    """A child table's rows belong to a row of ``table``: ``column`` holds that row's ``key``."""

    table: str = Field(examples=["illrequests"])
    column: str = Field(examples=["illrequest_id"])
    key: str = Field(examples=["illrequest_id"])


class ValueExpr(_Strict):
    """A tiny expression language for warehouse dimensions (data, never eval).

    Exactly one of: ``column`` (a column of the table, ``item.<col>`` or
    ``patron.<col>``), ``value`` (a constant), ``coalesce`` (first non-null of
    columns); ``map`` translates values, ``default`` fills what is unmapped.
    """

    column: str | list[str] | None = None   # a list: the first of them this database has
    value: str | None = None
    coalesce: list[str] | None = None        # columns this database lacks are left out
    map: dict[str, str] | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "ValueExpr":
        given = [k for k in ("column", "value", "coalesce") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, value or coalesce")
        return self

    def refs(self) -> list[str]:
        column = [self.column] if isinstance(self.column, str) else (self.column or [])
        return column + (self.coalesce or [])


class AggregateSpec(_Strict):
    """How a row contributes to the statistics warehouse before its patron link goes."""

    event: ValueExpr
    day: str = Field(examples=["issuedate"])
    branch: ValueExpr | None = None
    itemtype: ValueExpr | None = None
    ccode: ValueExpr | None = None
    #: the item's shelving location (Koha's LOC authorised value); none: counted as "?"
    location: ValueExpr | None = None
    patron_category: ValueExpr | None = None
    birth_date: str | None = Field(default=None, examples=["patron.dateofbirth"])
    renewals: str | list[str] | None = Field(default=None, examples=[["renewals_count", "renewals"]])
    amount: str | None = None

    @field_validator("event", "branch", "itemtype", "ccode", "location", "patron_category", mode="before")
    @classmethod
    def _column_shorthand(cls, value):
        return {"column": value} if isinstance(value, str) else value

    def refs(self) -> list[str]:
        renewals = [self.renewals] if isinstance(self.renewals, str) else (self.renewals or [])
        out = [self.day] + renewals + [r for r in (self.birth_date, self.amount) if r]
        for expr in (self.event, self.branch, self.itemtype, self.ccode, self.location, self.patron_category):
            if expr is not None:
                out.extend(expr.refs())
        return out


class TableMap(_Strict):
    description: str
    category: Category | None = Field(default=None, examples=["a"])
    lifecycle: Lifecycle = Field(examples=["history"])
    records: str | None = Field(default=None, examples=["loan_history"])
    optional: bool = False
    #: the Koha release lines that have this table (None: every supported line)
    since: str | None = Field(default=None, examples=["21.11"])
    key: list[str]
    link: str | None = None
    #: the patron column the link holds: the patron key (default), another patron column
    #: such as ``cardnumber``, or ``pseudonym`` (a keyed hash only Koha can resolve)
    link_to: str | None = Field(default=None, examples=["cardnumber"])
    link_when: LinkCondition | None = None
    #: a link value that names no patron but still marks personal data (Koha's pending
    #: self-registrations carry borrowernumber 0): such rows age by the table's own date
    unlinked_value: int | None = None
    identifies: Literal["link", "row"] = "link"
    age: str | None = Field(default=None, examples=["returndate", "patron.dateexpiry"])
    orphans_expire: bool = False   # rows whose patron no longer exists are past retention whatever their age
    exemptions: list[Exemption] = []
    aggregate: AggregateSpec | None = None
    #: child tables: the row of another table each row belongs to (deleted with it)
    parent: ParentLink | None = None
    #: what happens to this table's rows naming a patron whose record is removed
    on_patron_removal: Literal["delete", "strip"] = "delete"
    columns: dict[str, ColumnSpec]

    @field_validator("columns", mode="before")
    @classmethod
    def _role_shorthand(cls, value):
        if isinstance(value, dict):
            return {k: {"role": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "TableMap":
        if self.lifecycle != "reference" and self.category is None:
            raise ValueError(f"a {self.lifecycle} table needs 'category'")
        if self.lifecycle == "child":
            if self.parent is None:
                raise ValueError("a child table needs 'parent' (the table, column and key its rows belong to)")
            if self.parent.column not in self.columns:
                raise ValueError(f"parent column {self.parent.column!r} is not among the table's columns")
        elif self.parent is not None:
            raise ValueError("'parent' goes with lifecycle child only")
        needs_link = self.lifecycle in ("history", "identity", "active", "owned")
        if needs_link and self.link is None:
            raise ValueError(f"a {self.lifecycle} table needs 'link'")
        if self.link is not None:
            if self.columns.get(self.link, ColumnSpec(role="none")).role not in ("link", "pseudonym"):
                raise ValueError(f"link column {self.link!r} must be classified with role 'link' (or 'pseudonym')")
        if self.lifecycle in ("history", "identity", "active") and self.age is None:
            raise ValueError(f"a {self.lifecycle} table needs 'age'")
        if self.age and not self.age.startswith("patron.") and self.age not in self.columns:
            raise ValueError(f"age column {self.age!r} is not among the table's columns")
        if self.lifecycle in ("history", "identity") and not self.records:
            raise ValueError(f"a {self.lifecycle} table needs 'records' (the record class the policy schedules)")
        if self.lifecycle not in ("history", "identity") and self.records:
            raise ValueError(f"a {self.lifecycle} table is not scheduled; remove 'records'")
        if self.link_to == PSEUDONYM:
            bad = [e.kind for e in self.exemptions if e.via != "row"]
            if bad:
                raise ValueError(f"a pseudonymous link cannot be resolved to a patron, so exemption {bad[0]} "
                                 "cannot be checked; only still_open applies")
        for col in self.key:
            if col not in self.columns:
                raise ValueError(f"key column {col!r} is not among the table's columns")
        for ex in self.exemptions:
            for cond in ex.when or []:
                if cond.column not in self.columns:
                    raise ValueError(f"exemption still_open tests {cond.column!r}, which is not among the table's columns")
        if self.aggregate:
            for ref in self.aggregate.refs():
                if "." not in ref and ref not in self.columns:
                    raise ValueError(f"aggregate refers to {ref!r}, which is not among the table's columns")
                if "." in ref and ref.split(".", 1)[0] not in ("item", "patron"):
                    raise ValueError(f"aggregate reference {ref!r}: use a column, item.<column> or patron.<column>")
        return self

    @property
    def links_patron_key(self) -> bool:
        """True if the link column holds the patron key itself (not a card number or a pseudonym)."""
        return self.link is not None and self.link_to is None

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
    #: column names that, in any table, hold a patron's key (or a person's): what
    #: ``ils check`` looks for in tables the map does not know
    patron_link_names: list[str] = Field(default=[], examples=[["borrowernumber", "manager_id"]])
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
            if table.parent:
                parent = self.tables.get(table.parent.table)
                if parent is None:
                    raise ValueError(f"table {name}: parent {table.parent.table!r} is not mapped under tables")
                if table.parent.key not in parent.columns:
                    raise ValueError(f"table {name}: parent key {table.parent.key!r} is not a column of "
                                     f"{table.parent.table}")
        return self

    def children_of(self, name: str) -> dict[str, TableMap]:
        """Child tables whose rows belong to rows of ``name``."""
        return {child: t for child, t in self.tables.items() if t.parent and t.parent.table == name}

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
