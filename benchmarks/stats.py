"""Benchmark: an anonymised statistics query against a bare SQL ``GROUP BY`` over the same rows, same run.

For each size (default 100,000 and 1,000,000 loans) it builds a synthetic ILS
once, strips about half of the loan history with the retention core
(``apply_to_table`` on ``old_issues``, as of the day that puts half the
returned loans past retention: aggregated into the warehouse, links removed),
then times, each side in its own fresh process:

(a) the floor: one ``GROUP BY`` month × branch × patron category with
    ``COUNT(*)`` and ``COUNT(DISTINCT patron)`` over the same labelled rows
    (``old_issues`` and ``issues``, with the same joins to items and patrons);
(b) ``patronguard``: ``count_statistics`` (warehouse + live ILS merged by the
    rule of ``stats/query.py``: live linked rows, warehouse cells, unlinked
    rows not in the warehouse; distinct patrons by merging live patrons into
    the warehouse's keyed-hash sketches) by month × branch × patron category
    with checkouts and distinct patrons, then ``disclosure_controlled`` (k = 10:
    primary and complementary suppression).

Each side reports its peak memory (VmHWM, reset at the child's start), so (b)'s
memory can be compared between sizes. Prints seconds, the ratio (b)/(a) and
peak memory. SQLite.

    .venv/bin/python benchmarks/stats.py [--sizes 100000 1000000] [--repeat 1]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from procmem import reset_peak, status_mb  # noqa: E402 - benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UNTIL = dt.date(2025, 12, 31)
POLICY = str(ROOT / "policy/westchester.yaml")
BY = ("month", "branch", "patron_category")




# ----------------------------------------------------------------------------- the two sides (child processes)
def _side_floor(url: str) -> dict:
    import sqlalchemy as sa

    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.retention.report import open_ils
    from patronguard.stats.query_live import labelled_rows
    from patronguard.stats.query_warehouse import dimension

    engine, shape = open_ils(url, scan_unmapped=False)
    pii_map = builtin_pii_map()
    started = time.perf_counter()
    cells = rows = 0
    with engine.connect() as conn:
        for table in ("old_issues", "issues"):
            labelled = labelled_rows(shape, pii_map, table, "old_issues")
            inner = sa.select(*(dimension(d, labelled.c, labelled.c.day, "sqlite").label(d) for d in BY),
                              labelled.c.patron).subquery()
            keys = [inner.c[d] for d in BY]
            for row in conn.execute(sa.select(*keys, sa.func.count(), sa.func.count(sa.distinct(inner.c.patron)))
                                    .group_by(*keys)):
                cells += 1
                rows += row[-2]
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "cells": cells, "rows": rows}


def _side_ours(url: str, store_url: str) -> dict:
    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.retention.engine import checked_hash_key
    from patronguard.retention.report import open_ils
    from patronguard.stats.query import count_statistics, disclosure_controlled
    from patronguard.stats.request import parse_stats_request
    from patronguard.store import open_store

    engine, shape = open_ils(url, scan_unmapped=False)
    store = open_store(store_url)
    key = checked_hash_key(store)
    request = parse_stats_request(by=",".join(BY), measures="checkouts,distinct_patrons", requester="bench")
    pii_map = builtin_pii_map()
    started = time.perf_counter()
    counts = count_statistics(engine, shape, pii_map, store, request, key)
    counted = time.perf_counter() - started
    released = disclosure_controlled(counts, 10)
    seconds = time.perf_counter() - started
    engine.dispose()
    summary = released.summary()["measures"]["checkouts"]
    return {"seconds": seconds, "query_seconds": counted, "cells": len(counts.values["checkouts"]),
            "rows": counts.total("checkouts"), "primary": summary["primary"], "secondary": summary["secondary"]}


def _child(args) -> None:
    reset_peak()
    out = _side_floor(args.url) if args.side == "floor" else _side_ours(args.url, args.store)
    out["peak_rss_mb"] = status_mb("VmHWM")
    print(json.dumps(out))


def _run_side(side: str, url: str, store: str) -> dict:
    env = os.environ | {"PATRONGUARD_HASH_KEY": "5a" * 32}
    done = subprocess.run([sys.executable, __file__, "--child", side, "--url", url, "--store", store],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- setup
def _half_in_the_warehouse(url: str, store_url: str) -> tuple[int, int]:
    """Strip (aggregate, then remove the link of) the older half of the returned loans; return (aggregated, live)."""
    import sqlalchemy as sa

    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.policy import load_policy
    from patronguard.retention.engine import apply_to_table, make_context
    from patronguard.retention.report import open_ils
    from patronguard.store import open_store

    os.environ.setdefault("PATRONGUARD_HASH_KEY", "5a" * 32)
    loaded = load_policy(POLICY)
    engine, shape = open_ils(url, write=True, scan_unmapped=False)
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT COUNT(*) FROM old_issues")).scalar()
        median = conn.execute(sa.text("SELECT date(returndate) FROM old_issues ORDER BY returndate "
                                      "LIMIT 1 OFFSET :n"), {"n": total // 2}).scalar()
        loans = total + conn.execute(sa.text("SELECT COUNT(*) FROM issues")).scalar()
    keep = loaded.policy.rule_for("loan_history").keep_days
    as_of = dt.date.fromisoformat(median) + dt.timedelta(days=keep)
    store = open_store(store_url)
    ctx = make_context(engine, shape, builtin_pii_map(), loaded, store, frozenset(), 10_000)
    deltas = apply_to_table(ctx, loaded, "old_issues", as_of)
    aggregated = deltas.counts["old_issues"].get("aggregated", 0)
    engine.dispose()
    store.engine.dispose()
    return aggregated, loans - aggregated


def _size(loans: int, workdir: Path, repeat: int) -> dict:
    from patronguard.ils import LibrarySpec, init_ils

    url, store = f"sqlite:///{workdir / f'ils-{loans}.db'}", f"sqlite:///{workdir / f'store-{loans}.db'}"
    print(f"  building {loans:,} loans into SQLite ...", flush=True)
    init_ils(url, LibrarySpec(patrons=max(2000, loans // 25), loans=loans, years=5, seed=11, until=UNTIL))
    started = time.perf_counter()
    aggregated, live = _half_in_the_warehouse(url, store)
    print(f"  retention core: {aggregated:,} loans aggregated into the warehouse and stripped, {live:,} live "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    best: dict[str, dict] = {}
    for i in range(repeat):
        for side in (("floor", "ours") if i % 2 == 0 else ("ours", "floor")):
            result = _run_side(side, url, store)
            if side not in best or result["seconds"] < best[side]["seconds"]:
                best[side] = result
        if repeat > 1:
            ratio = best["ours"]["seconds"] / best["floor"]["seconds"]
            print(f"    after repetition {i + 1}: best-of ratio {ratio:.2f}x", flush=True)
    return {"loans": loans, "aggregated": aggregated, "live": live, **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", choices=["floor", "ours"])
    parser.add_argument("--url")
    parser.add_argument("--store")
    args = parser.parse_args()
    if args.child:
        args.side = args.child
        _child(args)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="pg-bench-stats-") as tmp:
        for loans in args.sizes:
            r = _size(loans, Path(tmp), args.repeat)
            results.append(r)
            floor, ours = r["floor"], r["ours"]
            assert ours["rows"] == r["aggregated"] + r["live"] == floor["rows"], \
                "totals differ: a loan lost or counted twice"
            print(f"  {loans:>9,} loans: floor {floor['seconds']:.2f} s ({floor['cells']:,} groups, "
                  f"{floor['peak_rss_mb']:.0f} MB peak); patronguard {ours['seconds']:.2f} s (query "
                  f"{ours['query_seconds']:.2f} s, {ours['cells']:,} cells, {ours['primary']:,} + "
                  f"{ours['secondary']:,} suppressed, {ours['peak_rss_mb']:.0f} MB peak); "
                  f"ratio {ours['seconds'] / floor['seconds']:.2f}x", flush=True)
    if len(results) > 1:
        grown = results[-1]["ours"]["peak_rss_mb"] / results[0]["ours"]["peak_rss_mb"]
        print(f"  peak memory, largest / smallest size: {grown:.2f}x for "
              f"{results[-1]['loans'] / results[0]['loans']:.0f}x the loans")


if __name__ == "__main__":
    main()
