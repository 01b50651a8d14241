"""Benchmark: ``init_ils`` building a large synthetic Koha library into SQLite.

Measures, in one run:

1. ``init_ils`` end to end into a fresh SQLite file (draw the models, format
   the rows, create the tables, load every table, create the indexes, commit);
2. the rows alone: iterating ``generate_library`` without a database;
3. the bare-SQL floor: the very same rows, precomputed as tuples, bulk-inserted
   with plain ``sqlite3.executemany`` into the same tables in one transaction
   with the same connection settings, then the same indexes and ANALYZE —
   i.e. what loading this data costs at the least on this machine.

Prints per-table row counts, seconds, loans/s, rows/s and the ratio of
``init_ils`` to the floor. Target: 1,000,000 loans in at most 60 s.

    .venv/bin/python benchmarks/ils_init.py [--loans 1000000] [--patrons 40000] [--db PATH]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.dialects import sqlite as sqlite_dialect  # noqa: E402
from sqlalchemy.schema import CreateIndex, CreateTable  # noqa: E402

from patronguard.ils import LibrarySpec, generate_library, init_ils  # noqa: E402
from patronguard.ils.line_schema import line_metadata, line_tables  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_LOANS = 1_000_000


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--patrons", type=int, default=40_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--until", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31),
                        help="last day of the history (fixed by default so runs are comparable)")
    parser.add_argument("--db", type=Path, default=None,
                        help="SQLite file to build (default: a temporary file, removed afterwards)")
    parser.add_argument("--replace", action="store_true", help="replace Koha tables already in --db")
    parser.add_argument("--koha-version", default="current", help="Koha release line (default: current)")
    return parser.parse_args()


def _floor(path: Path, batches: list, metadata) -> tuple[float, float]:
    """Plain sqlite3, one transaction: create the tables, executemany the precomputed tuples, create the
    same indexes, ANALYZE as init_ils does. Returns (seconds to insert, seconds in all)."""
    dialect = sqlite_dialect.dialect()
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("synchronous=OFF", "cache_size=-262144", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    statements = {}
    start = time.perf_counter()
    conn.execute("BEGIN")
    for table in metadata.sorted_tables:
        conn.execute(str(CreateTable(table).compile(dialect=dialect)))
    for table, columns, rows in batches:
        sql = statements.get(table)
        if sql is None:
            names = ", ".join(f'"{c}"' for c in columns)
            sql = statements[table] = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        conn.executemany(sql, rows)
    inserted = time.perf_counter() - start
    for table in metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda i: i.name):
            conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
    conn.execute("PRAGMA analysis_limit=400")
    conn.execute("ANALYZE")
    conn.execute("COMMIT")
    total = time.perf_counter() - start
    conn.close()
    return inserted, total


def main() -> int:
    args = _parse()
    spec = LibrarySpec(patrons=args.patrons, loans=args.loans, years=args.years, seed=args.seed, until=args.until)
    metadata, tables = line_metadata(args.koha_version), line_tables(args.koha_version)
    workdir = Path(tempfile.mkdtemp(prefix="pg_bench_"))
    db = args.db or workdir / "ils.db"
    floor_db = workdir / "floor.db"
    print(f"init_ils benchmark: SQLite {db}, {spec.loans:,} loans, {spec.patrons:,} patrons, "
          f"{spec.years} years to {spec.end}, seed {spec.seed}, {os.cpu_count()} CPUs")

    start = time.perf_counter()
    lines: list[str] = []
    counts = init_ils(f"sqlite:///{db}", spec, replace=args.replace, koha_version=args.koha_version,
                      progress=lambda line: lines.append(f"  {time.perf_counter() - start:6.1f} s  {line}"))
    ours = time.perf_counter() - start
    print("\n".join(lines))
    total_rows = sum(counts.values())

    gc.collect()
    start = time.perf_counter()
    batches = [(b.table, b.columns, b.rows)
               for b in generate_library(spec, dialect="sqlite", koha_version=args.koha_version)]
    generation = time.perf_counter() - start
    assert sum(len(b[2]) for b in batches) == total_rows
    inserted, floor = _floor(floor_db, batches, metadata)
    del batches

    print(f"\n{'table':<36}{'rows':>12}")
    for table in tables:
        print(f"{table:<36}{counts[table]:>12,}")
    print(f"{'total':<36}{total_rows:>12,}\n")
    print(f"init_ils (everything)        {ours:7.1f} s   {spec.loans / ours:>10,.0f} loans/s   "
          f"{total_rows / ours:>10,.0f} rows/s")
    print(f"  rows only, no database     {generation:7.1f} s   (iterating generate_library)")
    print(f"bare-SQL floor               {floor:7.1f} s   {spec.loans / floor:>10,.0f} loans/s   "
          f"{total_rows / floor:>10,.0f} rows/s")
    print(f"  of which executemany       {inserted:7.1f} s   (plain sqlite3.executemany of precomputed tuples)")
    n_indexes = sum(len(t.indexes) for t in metadata.sorted_tables)
    print(f"  of which indexes           {floor - inserted:7.1f} s   (the same {n_indexes} secondary indexes, ANALYZE)")
    print(f"ratio init_ils / floor       {ours / floor:7.2f} x")
    if spec.loans == TARGET_LOANS:
        verdict = "met" if ours <= TARGET_SECONDS else "MISSED"
        print(f"target {TARGET_LOANS:,} loans in <= {TARGET_SECONDS:.0f} s: {verdict} ({ours:.1f} s)")

    for path in (floor_db, *([] if args.db else [db])):
        path.unlink(missing_ok=True)
    if not args.db:
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
