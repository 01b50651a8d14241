"""A batch's aggregation rows on MariaDB: fetched as one packed value, returned exactly as the driver would.

``circulation_rows`` has one row per loan: a 20,000-loan batch is 20,000
rows of twelve columns. pymysql decodes those field by field in pure Python; profiling put
that at ~0.2–0.3 s of client CPU per 20,000 rows, the largest client cost of
a MariaDB batch after the key lists.

``packed_rows`` asks MariaDB for the same rows as one text value instead —
each row a JSON array of its values' text (``JSON_QUOTE(CAST(… AS CHAR))``,
NULL as ``null``), joined by ``GROUP_CONCAT`` — which orjson splits in a
few hundredths of a second; each value is then converted with the connection's own pymysql
decoder for its column type (taken from a ``MIN()`` of each column in the
same statement), so the tuples are the ones ``driver_rows`` returns: ``int``,
``Decimal``, ``datetime.date``/``datetime``, ``str`` (the aggregation asks for
its ``DATE`` day as ISO text, which ``Deltas.add_facts`` keys on anyway).
Row order is not kept (the aggregation has none).

Rows are numbered (``ROW_NUMBER() OVER ()``) and packed ``PACK_ROWS`` to a
value, so a value stays far below ``max_allowed_packet`` whatever the batch
size, and the values are decoded into tuples one at a time (``row_chunks``).
It falls back to the ordinary fetch — never to different rows — when:
the dialect is not MariaDB; a column has a type whose text form is not
known to round-trip (binary strings and blobs, floats, JSON, …); or the
server could not build a value (larger than ``max_allowed_packet`` gives
NULL). A value that does not hold exactly the rows the server counted for
it fails the batch (``PackedFetchError``), which then rolls back.
``GROUP_CONCAT`` is bounded by ``group_concat_max_len`` (1 MiB by default):
it is lifted for this one statement with MariaDB's
``SET STATEMENT … FOR`` (the session's settings are not changed).
"""
from __future__ import annotations

from typing import Iterator

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from ..errors import TerminalError

_GROUP_CONCAT_MAX_LEN = 1 << 30
PACK_ROWS = 20_000  # rows per packed value
_BY_TYPE: list = []  # what ``_packed`` returns when a column's type is not known to round-trip
_UNPACKABLE: set[tuple] = set()  # (engine, columns and their types) of statements the server could not pack
_BINARY = 63  # charset number of binary strings: pymysql returns bytes for those
# MySQL protocol column types (pymysql.constants.FIELD_TYPE; written out so that SQLite and PostgreSQL
# runs do not import pymysql): text, and the types whose text form the connection's decoders read back
VAR_STRING, STRING, VARCHAR, DATE = 253, 254, 15, 10
TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB = 249, 250, 251, 252  # TEXT columns too (a text charset, not binary)
_TEXT_TYPES = {VAR_STRING, STRING, VARCHAR, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB}
_EXACT_TYPES = {1, 2, 9, 3, 8,  # TINY, SHORT, INT24, LONG, LONGLONG
                13, 0, 246,     # YEAR, DECIMAL, NEWDECIMAL
                DATE, 12, 7,    # DATE, DATETIME, TIMESTAMP
                } | _TEXT_TYPES


def packed_rows(conn: Connection, statement: sa.Select, *, dates_as_text: bool = False) -> list[tuple]:
    """All rows of ``statement`` as the driver's plain tuples (what ``driver_rows`` returns), in no
    particular order. With ``dates_as_text`` a packed ``DATE`` stays ISO text (``'2024-05-01'``, as SQLite
    returns it) for a caller that wants text anyway. Errors are not caught: a failed statement fails the
    batch, as it always did."""
    return [row for chunk in row_chunks(conn, statement, dates_as_text=dates_as_text) for row in chunk]


def row_chunks(conn: Connection, statement: sa.Select, *, dates_as_text: bool = False,
               size: int = 20_000) -> Iterator[list[tuple]]:
    """``packed_rows``' rows, about ``size`` at a time, so that a batch of any size is never all in memory
    as Python objects: the driver's cursor is read with ``fetchmany``; packed values (``PACK_ROWS`` rows
    each) are decoded one at a time."""
    shape = (id(conn.engine), tuple((c.key, repr(c.type)) for c in statement.selected_columns))
    if _packable(conn.dialect) and shape not in _UNPACKABLE:
        packed = _packed(conn, statement, dates_as_text)
        if packed is _BY_TYPE and len(_UNPACKABLE) < 1000:
            # asked once and refused for its column types: not asked again (a packed try costs a whole read)
            _UNPACKABLE.add(shape)
        elif packed is not None and packed is not _BY_TYPE:
            yield from packed
            return
    result = conn.execute(statement)
    try:
        while chunk := result.cursor.fetchmany(size):
            yield chunk
    finally:
        result.close()


def _packable(dialect) -> bool:
    """MariaDB 10.2.3+ (``JSON_QUOTE``; ``SET STATEMENT`` is 10.1.2+) through pymysql."""
    version = tuple(dialect.server_version_info or ())[:3]
    return (dialect.name in ("mysql", "mariadb") and getattr(dialect, "is_mariadb", False)
            and dialect.driver == "pymysql" and version >= (10, 2, 3))


def _packed(conn: Connection, statement: sa.Select, dates_as_text: bool):
    """The rows' chunks (an iterator, one per packed value), ``_BY_TYPE``, or None (not packable this time).

    Everything that can refuse is checked before the first chunk is given out: the column types, and that
    every value came back (a value larger than ``max_allowed_packet`` comes back NULL). The packed values
    are text (~120 bytes a row); only their decoding into tuples is done one value at a time."""
    # rows numbered and packed PACK_ROWS to a value: each value stays far below ``max_allowed_packet``
    # (16 MiB by default) whatever the batch size
    inner = statement.subquery("packed_rows")
    rows = sa.select(*inner.c, sa.func.row_number().over().label("pack_row")).subquery("numbered")
    columns = [rows.c[c.key] for c in inner.c]
    as_text = [sa.func.ifnull(sa.func.json_quote(sa.cast(c, sa.CHAR)), sa.literal_column("'null'")) for c in columns]
    as_json = sa.func.concat(sa.literal_column("'['"), sa.func.concat_ws(sa.literal_column("','"), *as_text),
                             sa.literal_column("']'"))
    pack = sa.literal_column(f"(pack_row - 1) DIV {int(PACK_ROWS)}")
    packed = (sa.select(sa.func.count(), sa.func.group_concat(as_json), *(sa.func.min(c) for c in columns))
              .select_from(rows).group_by(pack))
    result = conn.execute(_SetStatement("group_concat_max_len", _GROUP_CONCAT_MAX_LEN, packed))
    try:
        values = result.cursor.fetchall()
        fields = getattr(getattr(result.cursor, "_result", None), "fields", None)
    finally:
        result.close()
    if not sum(v[0] for v in values):
        return iter(())
    if any(v[1] is None or _cut_short(v[1]) for v in values) or fields is None or len(fields) != len(columns) + 2:
        return None
    decoders = conn.connection.dbapi_connection.decoders
    convert = []
    for i, field in enumerate(fields[2:]):
        if field.type_code not in _EXACT_TYPES or (field.type_code in _TEXT_TYPES and field.charsetnr == _BINARY):
            return _BY_TYPE
        text = field.type_code in _TEXT_TYPES or (dates_as_text and field.type_code == DATE)
        decoder = None if text else decoders.get(field.type_code)
        if decoder is not None:
            convert.append((i, decoder))
    return _decoded(list(values), convert)


def _cut_short(document: str | bytes) -> bool:
    """A value ``GROUP_CONCAT`` cut at ``group_concat_max_len`` bytes (it warns; it does not fail)."""
    if isinstance(document, str):
        if len(document) * 4 < _GROUP_CONCAT_MAX_LEN:  # cannot reach the limit even in 4-byte characters
            return False
        document = document.encode()
    return len(document) >= _GROUP_CONCAT_MAX_LEN


def _decoded(values: list[tuple], convert: list) -> Iterator[list[tuple]]:
    while values:
        n, document, *_ = values.pop()  # dropped once decoded
        try:
            parsed = orjson.loads(b"[" + (document.encode() if isinstance(document, str) else document) + b"]")
        except orjson.JSONDecodeError as exc:  # JSON_QUOTE's output always parses: a server or driver fault
            raise PackedFetchError(f"a packed value did not parse: {exc}") from exc
        if len(parsed) != n:
            raise PackedFetchError(f"a packed value held {len(parsed):,} rows where the server counted {n:,}")
        out = []
        for row in parsed:
            for i, decode in convert:
                if row[i] is not None:
                    row[i] = decode(row[i])
            out.append(tuple(row))
        yield out


class PackedFetchError(TerminalError):
    """A packed value that does not hold exactly the rows counted: the batch fails (and rolls back)
    rather than act on rows it did not read."""


class _SetStatement(Executable, ClauseElement):
    """MariaDB's ``SET STATEMENT variable=value FOR <select>``: a session variable for one statement only."""

    inherit_cache = False

    def __init__(self, variable: str, value: int, statement: sa.Select):
        self.variable, self.value, self.statement = variable, int(value), statement


@compiles(_SetStatement)
def _compile_set_statement(element: _SetStatement, compiler, **kw) -> str:
    return f"SET STATEMENT {element.variable}={element.value} FOR {compiler.process(element.statement, **kw)}"
