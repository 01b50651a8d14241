"""The sets of patrons a request may name by scope, and what the rules may know of each patron of a set.

Read-only, pushed down to SQL: a scope becomes one ``SELECT DISTINCT borrowernumber``; the consent on record
one query over Koha's ``patron_consent``; legal holds come from the store. Nothing but borrowernumbers is
read, and nothing is written.
"""
from __future__ import annotations

import datetime as dt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError, NotKohaShapedError

#: scope -> (what it means, the tables it reads)
SCOPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "all_patrons": ("every patron in borrowers", ("borrowers",)),
    "overdue_items": ("patrons with an item checked out past its due date", ("issues",)),
    "owing_fines": ("patrons with money outstanding in accountlines", ("accountlines",)),
    "expired_cards": ("patrons whose card has expired (borrowers.dateexpiry before the day)", ("borrowers",)),
}


def _table(engine: Engine, name: str, *columns: str) -> sa.Table:
    try:
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise NotKohaShapedError(f"ILS table {name}: missing; it is needed to resolve this set of patrons") from None
    for column in columns:
        if column not in table.c:
            raise NotKohaShapedError(f"ILS table {name}: column {column} is missing; it is needed to resolve "
                                     "this set of patrons")
    return table


def resolve_patron_scope(engine: Engine, scope: str, as_of: dt.date) -> list[int]:
    """The borrowernumbers a scope names on ``as_of``, in order."""
    if scope not in SCOPES:
        raise InputError(f"subjects.scope: unknown scope {scope!r}; expected one of: {', '.join(SCOPES)}")
    start = dt.datetime.combine(as_of, dt.time())
    if scope == "all_patrons":
        t = _table(engine, "borrowers", "borrowernumber")
        query = sa.select(t.c.borrowernumber)
    elif scope == "expired_cards":
        t = _table(engine, "borrowers", "borrowernumber", "dateexpiry")
        query = sa.select(t.c.borrowernumber).where(t.c.dateexpiry < as_of)
    elif scope == "overdue_items":
        t = _table(engine, "issues", "borrowernumber", "date_due")
        query = sa.select(t.c.borrowernumber).where(t.c.date_due < start, t.c.borrowernumber.is_not(None))
    else:
        t = _table(engine, "accountlines", "borrowernumber", "amountoutstanding")
        query = sa.select(t.c.borrowernumber).where(t.c.amountoutstanding > 0, t.c.borrowernumber.is_not(None))
    with engine.connect() as conn:
        return sorted({int(n) for n in conn.execute(query.distinct()).scalars()})


def recorded_consents(engine: Engine, consent_type: str) -> set[int]:
    """Patrons whose consent of ``consent_type`` is on record in Koha's ``patron_consent`` (given, and not
    refused since). A type with no row at all is refused: it is far likelier a typo than a consent nobody
    has ever given, and a typo here would silently withhold or release a whole share."""
    t = _table(engine, "patron_consent", "borrowernumber", "type", "given_on", "refused_on")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.borrowernumber, t.c.given_on, t.c.refused_on)
                            .where(t.c.type == consent_type)).all()
    if not rows:
        raise InputError(f"--consent-type: no patron_consent row has type {consent_type!r}; "
                         "check the consent type your ILS records (e.g. GDPR_PROCESSING)")
    given: dict[int, bool] = {}
    for borrowernumber, given_on, refused_on in rows:
        if borrowernumber is None:
            continue
        ok = given_on is not None and (refused_on is None or refused_on < given_on)
        given[int(borrowernumber)] = given.get(int(borrowernumber), True) and ok
    return {n for n, ok in given.items() if ok}
