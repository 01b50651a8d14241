"""Exemptions as a small contract: each kind builds one SQL predicate.

The PII map says *which* exemptions apply to a table and *via* what
(``patron``, ``item``, ``loan``, ``row``); this registry says how each is
checked against the connected database. A predicate is true for a row that
must be kept although it is past retention.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa

from ..ils.piimap import Exemption, PiiMap
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

    def ils(self, name: str) -> sa.Table:
        return self.shape.tables[name]


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
    return ctx.link.in_(sorted(ctx.legal_holds))


@exemption("patron_keeps_history")
def _patron_keeps_history(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    patrons = ctx.ils(ctx.pii_map.patron_table).alias("keep_p")
    key = patrons.c[ctx.pii_map.patron_key]
    return sa.exists().where(key == ctx.link, patrons.c.privacy == 0)


@exemption("item_still_out")
def _item_still_out(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if "issues" not in ctx.shape.tables:
        ctx.notes.append(f"{ctx.table_name}: no issues table, item_still_out never applies")
        return sa.false()
    loans = ctx.ils("issues").alias("out_i")
    if via == "item":
        return sa.exists().where(loans.c.itemnumber == ctx.table.c.itemnumber)
    return sa.exists().where(loans.c.borrowernumber == ctx.link)


@exemption("money_owed")
def _money_owed(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if via == "row":
        return sa.func.coalesce(ctx.table.c.amountoutstanding, 0) != 0
    lines = ctx.ils("accountlines").alias("owed_a")
    owing = sa.func.coalesce(lines.c.amountoutstanding, 0) > 0
    if via == "loan":
        if ctx.shape.has_column("accountlines", "old_issue_id"):
            return sa.exists().where(lines.c.old_issue_id == ctx.table.c.issue_id, owing)
        ctx.notes.append(
            f"{ctx.table_name}: accountlines.old_issue_id is absent (older Koha); "
            "money_owed is checked per patron instead of per loan"
        )
    return sa.exists().where(lines.c.borrowernumber == ctx.link, owing)


@exemption("guarantor_of_current_patron")
def _guarantor_of_current_patron(ctx: ExemptionContext, via: str) -> sa.ColumnElement[bool]:
    if "borrower_relationships" not in ctx.shape.tables:
        ctx.notes.append(f"{ctx.table_name}: no borrower_relationships table, guarantors are not recognised")
        return sa.false()
    links = ctx.ils("borrower_relationships").alias("guar_r")
    patrons = ctx.ils(ctx.pii_map.patron_table).alias("guar_p")
    key = patrons.c[ctx.pii_map.patron_key]
    return sa.exists().where(
        links.c.guarantor_id == ctx.link, key == links.c.guarantee_id,
        sa.or_(patrons.c.dateexpiry.is_(None), patrons.c.dateexpiry >= sa.func.current_date()),
    )
