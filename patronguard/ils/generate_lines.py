"""Rows made for the current Koha schema, adapted to the columns of another release line.

The row builders write each table as the ``current`` line has it. For an
older line :class:`LineRows` then, table by table:

* leaves out tables the line does not have, and columns it does not have;
* translates what Koha renamed or reshaped: ``renewals_count`` was
  ``renewals`` (before 22.11); ``debit_type_code``/``credit_type_code``
  were ``accounttype`` with Koha's old codes (``F``/``FU`` fines, ``L``
  lost, ``Pay`` payment …); without ``old_issue_id`` a returned loan's
  fine points at it through ``issue_id``; without ``borrower_relationships``
  a juvenile's guarantor is ``borrowers.guarantorid``;
* turns moments into dates (or dates into midnight) where the line's
  column type differs, cuts text to the line's shorter VARCHARs, and puts
  an enum value the line's Koha did not know yet (an article request
  ``REQUESTED`` before 21.11) in its first state;
* writes every NOT NULL column the builders did not (the facts record no
  defaults): zero, an empty string, an enum's usual value, the last day.
"""
from __future__ import annotations

import numpy as np

from .generate_util import DAY, Calendar, Columns, Const, Formatter
from .line_schema import enum_values, line_facts, type_kind

#: Koha's accounttype codes before debit_type_code / credit_type_code (Koha 19.11 / 20.05).
OLD_ACCOUNT_TYPES = {"OVERDUE": "F", "LOST": "L", "ACCOUNT": "A", "ACCOUNT_RENEW": "A", "PAYMENT": "Pay",
                     "WRITEOFF": "W", "CREDIT": "C", "FORGIVEN": "FOR", "LOST_FOUND": "LR", "MANUAL": "M",
                     "NEW_CARD": "N", "RENT": "Rent", "RESERVE": "Res", "PROCESSING": "PF", "REFUND": "REF"}
#: The usual value of NOT NULL columns the builders leave out, by column name.
USUAL = {"checkprevcheckout": "inherit", "auth_method": "password", "lang": "default", "privacy": 1,
         "default_privacy": "default", "category_type": "A", "pickup_location": 1, "public": 1,
         "BlockExpiredPatronOpacActions": "follow_syspref_BlockExpiredPatronOpacActions",
         "can_be_guarantee": 0, "item_level_hold": 0, "priority": 0, "countissuesperunit": 1}


class LineRows:
    """Adapts builder rows (current schema) to the tables of ``line``."""

    def __init__(self, line: str, cal: Calendar, fmt: Formatter, guarantor: np.ndarray) -> None:
        self.line = line
        self.facts = line_facts(line)
        self.current = line_facts("current")
        self.present = frozenset(self.facts.tables)
        self.fmt = fmt
        self.last_day = fmt.day(cal.days - 1)
        self.last_moment = fmt.moment((cal.days - 1) * DAY)
        self.guarantor = guarantor  # by patron index: first guarantor's borrowernumber, or None
        #: builder columns the line does not have, per table (for the tests)
        self.dropped: dict[str, list[str]] = {}

    def has(self, table: str, column: str | None = None) -> bool:
        fact = self.facts.tables.get(table)
        return fact is not None and (column is None or column in fact.columns)

    def on_delete(self, table: str, column: str) -> str | None:
        """The line's ON DELETE of ``table.column``'s link to borrowers (None: no foreign key)."""
        fact = self.facts.tables.get(table)
        fk = fact.foreign_keys.get(column) if fact else None
        return fk.on_delete.upper() if fk else None

    def adapt(self, table: Columns) -> Columns | None:
        fact = self.facts.tables.get(table.table)
        if fact is None:
            return None
        values = dict(zip(table.names, table.values))
        self._translate(table.table, values, fact.columns)
        current = self.current.tables.get(table.table)
        self.dropped[table.table] = [n for n in values if n not in fact.columns]
        out = []
        for name, col in fact.columns.items():
            if name in values:
                was = current.columns[name].type if current is not None and name in current.columns else col.type
                out.append(self._coerce(values[name], was, col.type))
            else:
                out.append(Const(None if col.null else self._usual(name, col.type)))
        return Columns(table.table, list(fact.columns), out)

    def _translate(self, table: str, values: dict, columns: dict) -> None:
        if table in ("issues", "old_issues") and "renewals_count" not in columns and "renewals" in columns:
            values["renewals"] = values.get("renewals_count", Const(0))
        elif table == "accountlines":
            if "old_issue_id" not in columns and "old_issue_id" in values:
                values["issue_id"] = _coalesce(values["issue_id"], values["old_issue_id"])
            if "accounttype" in columns:
                values["accounttype"] = self._accounttype(values, columns)
        elif table in ("borrowers", "deletedborrowers") and "guarantorid" in columns \
                and "borrower_relationships" not in self.present:
            number = np.asarray(values["borrowernumber"], dtype=np.int64)
            values["guarantorid"] = self.guarantor[number - 1]

    def _accounttype(self, values: dict, columns: dict) -> np.ndarray:
        debit, credit = values.get("debit_type_code"), values.get("credit_type_code")
        status = values.get("status")
        n = len(debit)
        out = np.full(n, None, dtype=object)
        for i in range(n):
            code = credit[i] if credit[i] is not None else debit[i]
            own = "credit_type_code" if credit[i] is not None else "debit_type_code"
            if code is None or own in columns:
                continue
            old = OLD_ACCOUNT_TYPES.get(code, code[:5])
            if code == "OVERDUE" and status is not None and not isinstance(status, Const) \
                    and status[i] == "UNRETURNED":
                old = "FU"
            out[i] = old
        return out

    def _coerce(self, value, was: str, now: str):
        before, after = type_kind(was), type_kind(now)
        if isinstance(value, Const):
            return value
        if before == "moment" and after == "date":
            return np.array([None if v is None else v[:10] for v in value], dtype=object)
        if before == "date" and after == "moment":
            midnight = self.fmt.moment(0)[10:]
            return np.array([None if v is None else v + midnight for v in value], dtype=object)
        if after == "enum":  # a state the line's Koha did not have yet becomes its first one
            allowed = enum_values(now)
            accepted = set(allowed)
            known = np.array([v is None or v in accepted for v in value], dtype=bool)
            return value if known.all() else np.where(known, np.asarray(value, dtype=object), allowed[0])
        limit = _varchar(now)
        if limit and (_varchar(was) or 1 << 30) > limit:
            return np.array([v[:limit] if isinstance(v, str) else v for v in value], dtype=object)
        return value

    def _usual(self, name: str, type_text: str):
        kind = type_kind(type_text)
        usual = USUAL.get(name)
        if kind == "enum":
            allowed = enum_values(type_text)
            return usual if usual in allowed else allowed[0]
        if usual is not None and isinstance(usual, str) == (kind == "text"):
            return usual
        return {"int": 0, "real": 0.0, "text": "", "binary": b"", "date": self.last_day,
                "moment": self.last_moment}[kind]


def _varchar(type_text: str) -> int | None:
    text = type_text.strip().lower()
    if text.startswith(("varchar(", "char(")):
        return int(text.split("(", 1)[1].split(")", 1)[0])
    return None


def _coalesce(first, second) -> np.ndarray:
    a, b = np.asarray(first, dtype=object), np.asarray(second, dtype=object)
    return np.where(a == None, b, a)  # noqa: E711
