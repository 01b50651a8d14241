"""Content checksums of every table, to prove a step wrote nothing."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa


def table_checksums(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for name, table in sorted(md.tables.items()):
                digest = hashlib.sha256()
                order = [c for c in table.c]
                for row in conn.execute(sa.select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
                out[name] = digest.hexdigest()
        return out
    finally:
        engine.dispose()
