"""The tables of a Koha release line, as SQLAlchemy metadata built from the line's facts.

``koha_lines.yaml`` (see :mod:`.release`) records, for each supported
release line, the tables where Koha keeps patron data (and the reference
tables items, biblio, branches, categories, systempreferences): columns
with their MySQL types, nullability, auto-increment, primary key and
foreign keys to ``borrowers.borrowernumber``. :func:`line_metadata` turns
them into tables every backend can create:

* ``int``/``bigint``/``smallint``/``tinyint``/``boolean``/``serial`` →
  integer types (TINYINT and UNSIGNED kept on MariaDB), ``varchar(n)``/``char(n)`` → ``String(n)``,
  ``enum(...)`` → ``String`` as long as its longest value, the TEXT family
  → ``Text`` (TINYTEXT/MEDIUMTEXT/LONGTEXT on MariaDB), BLOBs →
  ``LargeBinary``, ``decimal(p,s)`` → ``Numeric(p,s)``, ``float``/``double``
  → ``Float``, ``date`` → ``Date``;
* ``datetime`` *and* ``timestamp`` → ``DateTime``: never an auto-updating
  TIMESTAMP, so an UPDATE made by the pipeline does not rewrite dates;
* no server defaults (the facts record none): ``ils init`` writes every
  NOT NULL column itself.

Secondary indexes are not part of the facts; a few that the pipeline's
queries rely on (patron links, ages, card numbers and barcodes) are added
here for the columns a line has. This schema is what ``ils init`` creates;
the pipeline never relies on it when reading a library's database.
"""
from __future__ import annotations

import re
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from ..errors import InputError
from .release import ColumnFact, LineFacts, TableFact, koha_lines, supported_lines

DEFAULT_LINE = "current"
PATRON_KEY = "borrowers.borrowernumber"
_MYSQL = ("mysql", "mariadb")
_TYPE = re.compile(r"^\s*([a-z]+)\s*(?:\(([^)]*)\))?\s*(unsigned)?", re.IGNORECASE)
_TEXTS = {"tinytext": mysql.TINYTEXT, "text": mysql.TEXT, "mediumtext": mysql.MEDIUMTEXT,
          "longtext": mysql.LONGTEXT}
_BLOBS = {"tinyblob": mysql.TINYBLOB, "blob": mysql.BLOB, "mediumblob": mysql.MEDIUMBLOB,
          "longblob": mysql.LONGBLOB}
_INTEGERS = {"tinyint": (sa.SmallInteger, mysql.TINYINT), "bool": (sa.SmallInteger, mysql.TINYINT),
             "boolean": (sa.SmallInteger, mysql.TINYINT), "smallint": (sa.SmallInteger, mysql.SMALLINT),
             "mediumint": (sa.Integer, mysql.MEDIUMINT), "int": (sa.Integer, mysql.INTEGER),
             "integer": (sa.Integer, mysql.INTEGER), "bigint": (sa.BigInteger, mysql.BIGINT),
             "serial": (sa.BigInteger, mysql.BIGINT)}  # MySQL's SERIAL: BIGINT UNSIGNED AUTO_INCREMENT

#: Secondary indexes (name suffix → columns), created when the line's table has the columns.
#: Foreign-key columns to borrowers get one each as well (MariaDB makes those itself).
INDEXES: dict[str, list[tuple[str, ...]]] = {
    "borrowers": [("categorycode",), ("branchcode",), ("dateexpiry",), ("guarantorid",)],
    "deletedborrowers": [("borrowernumber",)],
    "borrower_modifications": [("borrowernumber",)],
    "borrower_relationships": [("guarantor_id",), ("guarantee_id",)],
    "items": [("biblionumber",)],
    "issues": [("borrowernumber",)],
    "old_issues": [("itemnumber",), ("returndate",)],
    "reserves": [("biblionumber",)],
    "old_reserves": [("timestamp",)],
    "statistics": [("datetime",), ("borrowernumber",)],
    "accountlines": [("old_issue_id",), ("issue_id",)],
    "action_logs": [("timestamp",), ("object",)],
    "message_queue": [("time_queued",)],
    "search_history": [("userid",), ("time",)],
    "items_last_borrower": [("created_on",)],
    "pseudonymized_transactions": [("datetime",)],
    "checkout_renewals": [("checkout_id",)],
    "pending_offline_operations": [("cardnumber",)],
}
#: Unique indexes Koha has (card numbers, barcodes, one loan and one last borrower per item).
UNIQUE_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "borrowers": [("cardnumber",), ("userid",)],
    "items": [("barcode",)],
    "issues": [("itemnumber",)],
    "items_last_borrower": [("itemnumber",)],
}


def check_line(line: str) -> str:
    """``line`` if it is a supported release line, else an InputError listing them."""
    lines = supported_lines()
    if line not in lines:
        raise InputError(f"--koha-version {line!r} is not a supported Koha release line; "
                         f"choose one of: {', '.join(lines)}")
    return line


def line_facts(line: str = DEFAULT_LINE) -> LineFacts:
    return koha_lines().lines[check_line(line)]


def known_tables() -> tuple[str, ...]:
    """Every table some supported line records: what ``ils init --replace`` may drop."""
    names = {name for facts in koha_lines().lines.values() for name in facts.tables}
    return tuple(sorted(names, key=lambda t: (t != "borrowers", t)))


def column_type(text: str) -> sa.types.TypeEngine:
    """The SQLAlchemy type for a MySQL column type as Koha's DDL writes it (``varchar(80)``)."""
    match = _TYPE.match(text)
    if not match:
        raise ValueError(f"unknown column type {text!r}")
    base, args, unsigned = match.group(1).lower(), match.group(2), bool(match.group(3))
    if base == "enum":
        values = re.findall(r"'((?:[^']|'')*)'", text)
        return sa.String(max(len(v.replace("''", "'")) for v in values))
    if base in ("varchar", "char"):
        return sa.String(int(args))
    if base in _TEXTS:
        return sa.Text().with_variant(_TEXTS[base](), *_MYSQL)
    if base in _BLOBS:
        return sa.LargeBinary().with_variant(_BLOBS[base](), *_MYSQL)
    if base in _INTEGERS:
        generic, native = _INTEGERS[base]
        unsigned = unsigned or base == "serial"
        return generic().with_variant(native(unsigned=unsigned), *_MYSQL)
    if base == "date":
        return sa.Date()
    if base in ("datetime", "timestamp"):
        return sa.DateTime()
    if base in ("decimal", "numeric"):
        precision, scale = (int(x) for x in args.split(","))
        return sa.Numeric(precision, scale)
    if base in ("float", "double", "real"):
        return sa.Float()
    raise ValueError(f"unknown column type {text!r}")


def type_kind(text: str) -> str:
    """What a column holds, for the row builders: int, real, text, date, moment, binary or enum."""
    base = _TYPE.match(text).group(1).lower()
    if base == "enum":
        return "enum"
    if base in _INTEGERS:
        return "int"
    if base in ("decimal", "numeric", "float", "double", "real"):
        return "real"
    if base == "date":
        return "date"
    if base in ("datetime", "timestamp"):
        return "moment"
    if base in _BLOBS:
        return "binary"
    return "text"


def enum_values(text: str) -> list[str]:
    return [v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", text)]


def _column(name: str, fact: ColumnFact, table: TableFact) -> sa.Column:
    kind = column_type(fact.type)
    in_key = name in table.primary_key
    if fact.auto_increment and isinstance(kind, sa.BigInteger):
        kind = kind.with_variant(sa.Integer(), "sqlite")  # only INTEGER PRIMARY KEY counts up there
    args: list = [kind]
    fk = table.foreign_keys.get(name)
    if fk is not None:
        if fk.references != PATRON_KEY:  # pragma: no cover - the facts record links to borrowers only
            raise ValueError(f"foreign key to {fk.references}: only {PATRON_KEY} is supported")
        args.append(sa.ForeignKey(PATRON_KEY, ondelete=fk.on_delete.upper()))
    return sa.Column(name, *args, primary_key=in_key, nullable=fact.null and not in_key,
                     autoincrement=bool(fact.auto_increment) if in_key else False)


def _indexes(name: str, table: sa.Table) -> None:
    wanted = [(cols, False) for cols in INDEXES.get(name, [])]
    wanted += [(cols, True) for cols in UNIQUE_INDEXES.get(name, [])]
    wanted += [((c.name,), False) for c in table.columns if c.foreign_keys]
    keyed = tuple(c.name for c in table.primary_key.columns)
    seen: set[tuple[str, ...]] = {keyed}
    for cols, unique in wanted:
        if cols in seen or not all(c in table.c for c in cols):
            continue
        seen.add(cols)
        sa.Index(f"{name}_{'_'.join(cols)}", *(table.c[c] for c in cols), unique=unique)


@cache
def line_metadata(line: str = DEFAULT_LINE) -> sa.MetaData:
    """Every table the facts of ``line`` record, with their columns, keys, links to borrowers and indexes."""
    facts = line_facts(line)
    metadata = sa.MetaData()
    for name in sorted(facts.tables):
        fact = facts.tables[name]
        columns = [_column(col, cf, fact) for col, cf in fact.columns.items()]
        table = sa.Table(name, metadata, *columns)
        _indexes(name, table)
    return metadata


def line_tables(line: str = DEFAULT_LINE) -> tuple[str, ...]:
    """The line's tables, parents before children (borrowers first)."""
    return tuple(t.name for t in line_metadata(line).sorted_tables)
