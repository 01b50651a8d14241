"""Exemptions as a small contract: each kind builds one SQL predicate.

The PII map says *which* exemptions apply to a table and *via* what
(``patron``, ``item``, ``loan``, ``row``); this registry says how each is
checked against the connected database. A predicate is true for a row that
must be kept although it is past retention.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa

from ..errors import RunPlanError
from ..ils.piimap import Exemption, PiiMap, RowCondition
from ..ils.shape import IlsShape


@dataclass
class ExemptionContext:
    """What a predicate builder may use: the row's table, its patron link, the ILS."""

    table_name: str
    table: sa.FromClause
    link: sa.ColumnElement
    shape: IlsShape
    pii_map: PiiMap
    legal_holds: frozenset[int]
    notes: list[str] = field(default_factory=list)
    link_to: str | None = None   # the patron column the link holds (None: the patron key)
    as_of: dt.date | None = None  # the run's day ("today" for open transactions and current patrons)

    def today(self) -> sa.ColumnElement:
        return sa.literal(self.as_of, sa.Date) if self.as_of is not None else sa.func.current_date()

    def ils(self, name: str) -> sa.Table:
        return self.shape.tables[name]

    def patron_key_of_row(self) -> sa.ColumnElement:
        """The row's patron as a patron key: the link itself, or looked up by ``link_to`` (e.g. cardnumber)."""
        if self.link_to is None:
            return self.link
        patrons = self.ils(self.pii_map.patron_table).alias("by_" + self.link_to)
        return (sa.select(patrons.c[self.pii_map.patron_key])
                .where(patrons.c[self.link_to] == self.link).limit(1).scalar_subquery())

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


Builder = Callable[[ExemptionContext, str], sa.ColumnElement[bool]]
_REGISTRY: dict[str, Builder] = {}


def exemption(kind: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        _REGISTRY[kind] = fn
        return fn
    return register


def exemption_kinds() -> list[str]:
    return list(_REGISTRY)


def predicate(ctx: ExemptionContext, ex: Exemption) -> sa.ColumnElement[bool]:
    return _REGISTRY[ex.kind](ctx, ex.via)


@exemption("legal_hold")
def _legal_hold(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if not ctx.legal_holds:
        return sa.false()
    return ctx.patron_key_of_row().in_(sorted(ctx.legal_holds))


@exemption("patron_keeps_history")
def _patron_keeps_history(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    patrons = ctx.ils(ctx.pii_map.patron_table).alias("keep_p")
    key = patrons.c[ctx.pii_map.patron_key]
    return sa.exists().where(key == ctx.patron_key_of_row(), patrons.c.privacy == 0)


@exemption("item_still_out")
def _item_still_out(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if "issues" not in ctx.shape.tables:
        ctx.notes.append(f"{ctx.table_name}: no issues table, item_still_out never applies")
        return sa.false()
    loans = ctx.ils("issues").alias("out_i")
    if via == "item":
        return sa.exists().where(loans.c.itemnumber == ctx.table.c.itemnumber)
    return sa.exists().where(loans.c.borrowernumber == ctx.patron_key_of_row())


@exemption("money_owed")
def _money_owed(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if via == "row":
        return sa.func.coalesce(ctx.table.c.amountoutstanding, 0) != 0
    lines = ctx.ils("accountlines").alias("owed_a")
    owing = sa.func.coalesce(lines.c.amountoutstanding, 0) > 0
    if via == "loan":
        # Koha 20.05+ links a fine to its returned loan by old_issue_id; earlier lines by
        # issue_id, which keeps the loan's id when it moves from issues to old_issues.
        for column in ("old_issue_id", "issue_id"):
            if ctx.shape.has_column("accountlines", column):
                if column != "old_issue_id":
                    ctx.note(f"{ctx.table_name}: money owed is checked per loan through accountlines.{column} "
                             "(this release has no accountlines.old_issue_id)")
                return sa.exists().where(lines.c[column] == ctx.table.c.issue_id, owing)
        ctx.note(f"{ctx.table_name}: accountlines has no per-loan link (old_issue_id or issue_id); "
                 "money owed is checked per patron instead of per loan")
    return sa.exists().where(lines.c.borrowernumber == ctx.patron_key_of_row(), owing)


@exemption("guarantor_of_current_patron")
def _guarantor_of_current_patron(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    patrons = ctx.ils(ctx.pii_map.patron_table).alias("guar_p")
    key = patrons.c[ctx.pii_map.patron_key]
    current = sa.or_(patrons.c.dateexpiry.is_(None), patrons.c.dateexpiry >= ctx.today())
    if "borrower_relationships" in ctx.shape.tables:
        links = ctx.ils("borrower_relationships").alias("guar_r")
        return sa.exists().where(links.c.guarantor_id == ctx.patron_key_of_row(), key == links.c.guarantee_id,
                                 current)
    if ctx.shape.has_column(ctx.pii_map.patron_table, "guarantorid"):
        # before Koha 19.11's borrower_relationships, a juvenile named its guarantor in borrowers.guarantorid
        ctx.note(f"{ctx.table_name}: guarantors are read from borrowers.guarantorid (no borrower_relationships)")
        return sa.exists().where(patrons.c.guarantorid == ctx.patron_key_of_row(), current)
    raise RunPlanError(f"{ctx.table_name}: cannot tell guarantors of current patrons (Westchester §3): this database "
                       "has neither borrower_relationships nor borrowers.guarantorid")


def row_condition(table: sa.FromClause, cond: RowCondition, today: sa.ColumnElement) -> sa.ColumnElement[bool]:
    column = table.c[cond.column]
    if cond.in_ is not None:
        return column.in_(cond.in_)
    if cond.not_in is not None:
        return sa.and_(column.is_not(None), column.not_in(cond.not_in))
    if cond.is_null:
        return column.is_(None)
    return column >= today


@exemption("still_open")
def _still_open(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    """An open transaction (a suggestion not yet handled, a request in progress, a restriction in force)."""
    table_map = ctx.pii_map.tables[ctx.table_name]
    conditions = [c for ex in table_map.exemptions if ex.kind == "still_open" for c in ex.when or []]
    return sa.or_(*(row_condition(ctx.table, c, ctx.today()) for c in conditions))
