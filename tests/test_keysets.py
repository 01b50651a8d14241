"""A batch's key list (``keys_in``) and its aggregation rows (``packed_rows``) on the real servers.

Both are speed-ups of the retention run's batches: neither may change which rows a batch touches or
what the warehouse is told about them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dbs import fresh_database
from patronguard.retention import packedrows
from patronguard.retention.batches import keys_in
from patronguard.retention.packedrows import packed_rows


def _table(url: str):
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    table = sa.Table("keyset_rows", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("link", sa.Integer))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "link": i % 7} for i in range(1, 3001)])
    return engine, table


def test_keys_in_touches_exactly_the_listed_rows(backend, tmp_path):
    keys = [k for k in range(1, 3001) if k % 3 and k % 11]  # gaps, as a batch of eligible rows has
    with fresh_database(backend, tmp_path) as url:
        engine, table = _table(url)
        try:
            dialect = engine.dialect.name
            selected = sa.and_(table.c.id >= keys[0], table.c.id <= keys[-1], keys_in(table.c.id, keys, dialect))
            with engine.begin() as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(table).where(selected)).scalar() == len(keys)
                assert conn.execute(table.update().where(selected).values(link=None)).rowcount == len(keys)
                cleared = sorted(conn.execute(sa.select(table.c.id).where(table.c.link.is_(None))).scalars())
                assert cleared == keys
                assert conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(~keys_in(table.c.id, keys, dialect))).scalar() == 3000 - len(keys)
        finally:
            engine.dispose()


def test_mariadb_key_list_is_inlined_and_never_cached(tmp_path):
    with fresh_database("mariadb", tmp_path) as url:
        engine, table = _table(url)
        try:
            condition = keys_in(table.c.id, [5, 3, 9], "mysql")
            sql = str(table.update().where(table.c.id >= 3, condition).values(link=1).compile(engine))
            assert "IN (5,3,9)" in sql and "= 1" not in sql.replace("link=%(link)s", "")
            cached = len(engine._compiled_cache)
            with engine.begin() as conn:
                for start in range(1, 2000, 100):
                    keys = list(range(start, start + 50))
                    assert conn.execute(table.update().where(keys_in(table.c.id, keys, "mysql"))
                                        .values(link=2)).rowcount == 50
            assert len(engine._compiled_cache) == cached  # a statement per batch would otherwise stay cached
            assert keys_in(table.c.id, ["a", "b"], "mysql").compile(engine).params  # not integers: bound, not inlined
        finally:
            engine.dispose()


TRICKY = ["plain", 'quo"te', "apos'", "back\\slash", "tab\tnl\ncr\r", "ünïcødé ✓ 😀", "", None, "x,y]", "\x01", "null"]


def test_packed_rows_are_the_driver_rows_on_mariadb(tmp_path, monkeypatch):
    with fresh_database("mariadb", tmp_path) as url:
        engine = sa.create_engine(url)
        metadata = sa.MetaData()
        t = sa.Table("packed", metadata, sa.Column("s", sa.String(40)), sa.Column("d", sa.Date),
                     sa.Column("ts", sa.DateTime), sa.Column("p", sa.Integer), sa.Column("n", sa.SmallInteger),
                     sa.Column("a", sa.Numeric(18, 6)), sa.Column("f", sa.Float), sa.Column("b", sa.LargeBinary(8)),
                     sa.Column("txt", sa.Text))
        metadata.create_all(engine)
        used: list[bool] = []
        real = packedrows._packed
        monkeypatch.setattr(packedrows, "_packed", lambda *a: used.append((r := real(*a)) is not None and r is not packedrows._BY_TYPE) or r)
        try:
            with engine.begin() as conn:
                conn.execute(t.insert(), [
                    {"s": s, "d": dt.date(2020, 1, i + 1) if i % 3 else None, "p": i if i % 4 else None, "n": i,
                     "ts": dt.datetime(2020, 1, 2, 3, 4, i) if i % 2 else None, "a": Decimal(i) / 7, "f": i / 3,
                     "b": bytes([i, 0, 255]), "txt": s and s * 3} for i, s in enumerate(TRICKY)])

                def same(statement, packed: bool):
                    result = conn.execute(statement)
                    expected = result.cursor.fetchall()
                    result.close()
                    got = packed_rows(conn, statement)
                    assert sorted(got, key=repr) == sorted(expected, key=repr)
                    assert [tuple(map(type, r)) for r in sorted(got, key=repr)] == \
                        [tuple(map(type, r)) for r in sorted(expected, key=repr)]
                    assert used[-1] is packed

                facts = sa.select(t.c.s.label("event"), t.c.d.label("day"), t.c.p.label("patron"),
                                  sa.func.count().label("events"), sa.func.sum(t.c.n).label("renewals"),
                                  sa.func.sum(t.c.a).label("amount")).group_by(t.c.s, t.c.d, t.c.p)
                same(facts, packed=True)
                same(sa.select(t.c.s, t.c.d, t.c.ts, t.c.p, t.c.n, t.c.a), packed=True)
                same(sa.select(t.c.s, t.c.txt, t.c.p), packed=True)  # TEXT columns (a text charset) pack
                same(sa.select(t.c.s, t.c.f), packed=False)       # floats: fetched the ordinary way
                asked = len(used)
                same(sa.select(t.c.s, t.c.f), packed=False)       # ... and not offered for packing again
                assert len(used) == asked
                same(sa.select(t.c.s, t.c.b), packed=False)       # binary strings: likewise
                assert packed_rows(conn, facts.where(t.c.n < 0)) == []
                as_text = packed_rows(conn, facts, dates_as_text=True)  # what the aggregation asks for
                result = conn.execute(facts)
                expected = [(r[0], r[1].isoformat() if r[1] else None, *r[2:]) for r in result.cursor.fetchall()]
                result.close()
                assert sorted(as_text, key=repr) == sorted(expected, key=repr)
                monkeypatch.setattr(packedrows, "PACK_ROWS", 2)         # several packed values: the same rows
                same(sa.select(t.c.s, t.c.d, t.c.ts, t.c.p, t.c.n, t.c.a), packed=True)
                sizes = [len(c) for c in packedrows.row_chunks(conn, sa.select(t.c.s, t.c.p), size=4)]
                assert sum(sizes) == len(TRICKY) and max(sizes) <= 2  # decoded one packed value at a time
                monkeypatch.setattr(packedrows, "_GROUP_CONCAT_MAX_LEN", 64)
                same(facts, packed=False)                         # a cut-short value is never used
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_packed_rows_elsewhere_are_the_driver_rows(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        engine, table = _table(url)
        try:
            with engine.connect() as conn:
                statement = sa.select(table.c.link, sa.func.count()).group_by(table.c.link)
                assert sorted(packed_rows(conn, statement)) == sorted(conn.execute(statement).cursor.fetchall())
                every = sa.select(table.c.id, table.c.link)
                sizes = [len(c) for c in packedrows.row_chunks(conn, every, size=7)]
                assert sum(sizes) == conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                assert max(sizes) == 7 and all(n == 7 for n in sizes[:-1])  # read in chunks, not all at once
        finally:
            engine.dispose()
