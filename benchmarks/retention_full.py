"""Benchmark: the whole retention run against the sum of per-table bare-SQL floors, on the same data.

For a library of ``--loans`` loans (default 1,000,000; Koha's ``current``
line, all but the last weeks of history past retention) it builds the
synthetic ILS once, makes identical copies (SQLite: a file copy; MariaDB:
``SHOW CREATE TABLE`` + ``INSERT … SELECT`` into a fresh database;
PostgreSQL: ``CREATE DATABASE … TEMPLATE``) and times, each in its own fresh
child process on its own copy, with the Westchester policy at an as-of day
equal to the library's last day:

(a) the floor: for every step of the run's plan (same tables in the same
    order, same actions, same cutoffs, the same eligibility predicate from
    ``row_scope(...).eligible(cutoff)``) the minimal bare SQL, one
    transaction per table, no batching, no ledger, no scrubbing:
    aggregate_then_strip → one ``INSERT … SELECT … GROUP BY``
    (``circulation_facts``) into a scratch table + one ``UPDATE`` re-pointing
    the link; strip → one ``UPDATE``; delete → one ``DELETE`` (child tables
    first); expired patrons → their keys into a scratch table (one
    ``INSERT … SELECT``), then for every table naming them the one
    ``INSERT … SELECT`` (aggregated history) / ``UPDATE`` / ``DELETE``, the
    staff links cleared, other patrons' links to them cleared, one ``DELETE``
    of the patrons. The floor is the sum of the per-table times;
(b) patronguard's acting phase exactly as ``run_retention`` does it:
    ``make_context``, ``plan_run`` (rehearsal), then ``act_on_table`` for
    every table of ``plan.tables`` (keyset batches, ledger prepare/complete,
    warehouse upsert, distinct-patron sketches, free-text scrubbing);
(c) the complete ``run_retention(...)`` (Great Expectations validation
    before, exposure report, plan, act, verification, after-suite, run
    record) on a third copy, with a per-phase breakdown.

After each side, outside the timing, the child fingerprints the ILS (rows per
table; per link/staff column the non-null count and sum), and the three
fingerprints must be equal: the floor did exactly the same job. Each child
reports its peak memory (VmHWM, reset at its start); give two sizes to see
(b)'s memory against table size.

    .venv/bin/python benchmarks/retention_full.py [--loans 1000000] [--backend sqlite|mariadb|postgresql]
        [--repeat 1] [--no-full] [--profile DIR]

``--loans 200000 1000000`` runs both sizes and prints (b)'s peak memory at each.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patronguard.retention.context import DEFAULT_BATCH_SIZE  # noqa: E402  (the CLI's default)
from procmem import reset_peak, status_mb  # noqa: E402 - benchmarks/ is on sys.path when run

UNTIL = dt.date(2025, 12, 31)
POLICY = str(ROOT / "policy/westchester.yaml")
KOHA_LINE = "current"
HASH_KEY = "5a" * 32
SERVERS = {
    "mariadb": os.environ.get("PATRONGUARD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgresql": os.environ.get("PATRONGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"),
}
TARGET = 1.5


# ----------------------------------------------------------------------------- measuring in the child


def _fingerprint(engine, shape, pii_map) -> dict:
    """Rows per mapped table and, per link/staff column, how many are set and their sum (integers):
    equal fingerprints mean the floor removed, stripped and re-pointed exactly what patronguard did."""
    import sqlalchemy as sa

    out = {}
    with engine.connect() as conn:
        for name, table_map in pii_map.tables.items():
            if name not in shape.tables:
                continue
            t = shape.tables[name]
            cols = [t.c[c] for c in table_map.columns_with("link", "staff") if c in t.c]
            measures = [sa.func.count()]
            for c in cols:
                measures.append(sa.func.count(c))
                if isinstance(c.type, sa.Integer):
                    measures.append(sa.func.coalesce(sa.func.sum(c), 0))
            out[name] = [int(v) for v in conn.execute(sa.select(*measures).select_from(t)).one()]
    return out


def _cpu_meter():
    """CPU of this process plus that of the server thread/backend serving its connections (``retention.py``'s
    meter; created before the first engine connects)."""
    from retention import _CpuMeter  # benchmarks/retention.py, beside this script

    return _CpuMeter()


def _cpu_of(reading: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds: client + server) of one ``_CpuMeter`` reading."""
    server = reading["cpu_server"]
    return reading["seconds"], reading["cpu_client"] + (0.0 if server != server else server)


# ----------------------------------------------------------------------------- (a) the floor
def _plan_steps(pii_map, shape, loaded):
    """(table, action, cutoff) for every step, in the order ``run_retention`` acts."""
    from patronguard.retention.asof import cutoff_for
    from patronguard.retention.engine import tables_in_order

    steps = []
    for table in tables_in_order(pii_map, shape):
        rule = loaded.policy.rule_for(pii_map.tables[table].records)
        steps.append((table, rule.action, cutoff_for(UNTIL, rule.keep_days)))
    return steps


class _Floor:
    """Builds the bare statements of each step (before the clock starts)."""

    def __init__(self, engine, shape, pii_map, loaded):
        import sqlalchemy as sa

        from patronguard.retention.engine import anonymous_value, policy_actions

        self.sa, self.engine, self.shape, self.pii_map = sa, engine, shape, pii_map
        self.anon = anonymous_value(loaded, shape)
        self.actions = policy_actions(pii_map, loaded)
        md = sa.MetaData()
        self.stats = sa.Table("bench_floor_stats", md, *(sa.Column(n, sa.String(80)) for n in (
            "event", "day", "branch", "itemtype", "ccode", "location", "patron_category", "age_band")),
            sa.Column("events", sa.Integer), sa.Column("renewals", sa.Integer), sa.Column("amount", sa.Numeric(18, 2)))
        patron_key = shape.tables[pii_map.patron_table].c[pii_map.patron_key]
        self.gone = sa.Table("bench_floor_patrons", md, sa.Column("patron", patron_key.type, primary_key=True,
                                                                  autoincrement=False))
        with engine.begin() as conn:
            for t in (self.stats, self.gone):
                t.drop(conn, checkfirst=True)
                t.create(conn)

    def scope(self, name):
        from patronguard.retention.scope import row_scope

        return row_scope(name, self.shape, self.pii_map, frozenset(), as_of=UNTIL)

    def aggregate(self, scope, where):
        from patronguard.retention.aggregate import circulation_facts

        facts = circulation_facts(scope, self.shape, self.pii_map, scope.table_map.aggregate, where)
        return self.stats.insert().from_select([c.name for c in self.stats.c], facts)

    def child_deletes(self, parent: str, parent_rows) -> list:
        """DELETEs of the rows of ``parent``'s child tables (grandchildren first), as the PII map says."""
        sa, out = self.sa, []
        for child, child_map in self.pii_map.children_of(parent).items():
            if child not in self.shape.tables or parent not in self.shape.tables:
                continue
            ct, pt = self.shape.tables[child], self.shape.tables[parent]
            belongs = ct.c[child_map.parent.column].in_(sa.select(pt.c[child_map.parent.key]).where(parent_rows))
            out += self.child_deletes(child, belongs)
            out.append(ct.delete().where(belongs))
        return out

    def statements(self, table: str, action: str, cutoff: dt.date) -> list:
        if action == "anonymise_then_delete":
            return self.patron_statements(cutoff)
        scope = self.scope(table)
        eligible = scope.eligible(cutoff)
        if action == "delete":
            return self.child_deletes(table, eligible) + [scope.table.delete().where(eligible)]
        strip = scope.table.update().where(eligible).values({scope.link.name: self.anon})
        return ([self.aggregate(scope, eligible)] if action == "aggregate_then_strip" else []) + [strip]

    def patron_statements(self, cutoff: dt.date) -> list:
        from patronguard.ils.piimap import PSEUDONYM

        sa, shape, pii_map = self.sa, self.shape, self.pii_map
        pt = shape.tables[pii_map.patron_table]
        key = pt.c[pii_map.patron_key]
        ids = sa.select(self.gone.c.patron)
        out = [self.gone.insert().from_select(["patron"], sa.select(key).where(self.scope(pii_map.patron_table)
                                                                               .eligible(cutoff)))]

        def naming(table_map, column):
            if table_map.link_to is None or column.name != table_map.link:
                return column.in_(ids)
            return column.in_(sa.select(pt.c[table_map.link_to]).where(key.in_(ids)))

        for name, table_map in pii_map.tables.items():
            if name == pii_map.patron_table or name not in shape.tables:
                continue
            t = shape.tables[name]
            links = [t.c[c] for c in table_map.columns_with("link") if c in t.c]
            if links and table_map.link_to != PSEUDONYM:
                action = (self.actions[name] if table_map.lifecycle == "history" and name in self.actions
                          else table_map.on_patron_removal)
                if action == "aggregate_then_strip" and table_map.aggregate is not None:
                    scope = self.scope(name)
                    mine = sa.and_(*scope.identifying, naming(table_map, scope.link))
                    out += [self.aggregate(scope, mine), t.update().where(mine).values({scope.link.name: self.anon})]
                elif action in ("strip", "aggregate_then_strip"):
                    value = self.anon if table_map.links_patron_key else None
                    out += [t.update().where(naming(table_map, c)).values({c.name: value}) for c in links]
                else:
                    condition = sa.or_(*(naming(table_map, c) for c in links))
                    if table_map.link_when:
                        condition = sa.and_(condition, t.c[table_map.link_when.column].in_(table_map.link_when.in_))
                    out += self.child_deletes(name, condition) + [t.delete().where(condition)]
            for c in table_map.columns_with("staff"):
                if c in t.c and t.c[c].nullable and isinstance(t.c[c].type, sa.Integer):
                    out.append(t.update().where(t.c[c].in_(ids)).values({c: None}))
        patron_map = pii_map.tables[pii_map.patron_table]
        for c in patron_map.columns_with("link"):
            if c != key.name and c in pt.c:
                out.append(pt.update().where(pt.c[c].in_(ids)).values({c: None}))
        out.append(pt.delete().where(key.in_(ids)))
        return out


def _side_floor(url: str) -> dict:
    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.policy import load_policy
    from patronguard.retention.report import open_ils

    meter = _cpu_meter()
    loaded = load_policy(POLICY)
    engine, shape = open_ils(url, write=True)
    pii_map = builtin_pii_map("koha")
    floor = _Floor(engine, shape, pii_map, loaded)
    steps = [(table, action, floor.statements(table, action, cutoff)) for table, action, cutoff in
             _plan_steps(pii_map, shape, loaded)]
    per_table, per_table_cpu, rows = {}, {}, {}
    scratch = {floor.stats.name, floor.gone.name}
    for table, _action, statements in steps:
        meter.start()
        with engine.begin() as conn:  # one transaction per table
            changed = [(s, conn.execute(s).rowcount) for s in statements]
        per_table[table], per_table_cpu[table] = _cpu_of(meter.stop())
        # rows of the ILS stripped, deleted or cleared (not the scratch tables' inserts)
        rows[table] = sum(n for s, n in changed if s.table.name not in scratch and n > 0)
    with engine.begin() as conn:
        floor.stats.drop(conn)
        floor.gone.drop(conn)
    print_ = _fingerprint(engine, shape, pii_map)
    engine.dispose()
    return {"seconds": sum(per_table.values()), "per_table": per_table, "cpu": sum(per_table_cpu.values()),
            "per_table_cpu": per_table_cpu, "rows": rows,
            "actions": {t: a for t, a, _ in steps}, "fingerprint": print_}


# ----------------------------------------------------------------------------- (b) patronguard's acting phase
def _side_ours(url: str, store_url: str, batch_size: int, profile: str | None) -> dict:
    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.policy import load_policy
    from patronguard.retention.aggdelete import act_on_table
    from patronguard.retention.engine import apply_to_table, make_context, recover_pending_batches, tables_in_order
    from patronguard.retention.plan import plan_run
    from patronguard.retention.report import open_ils
    from patronguard.store import open_store

    meter = _cpu_meter()
    loaded = load_policy(POLICY)
    pii_map = builtin_pii_map("koha")
    engine, shape = open_ils(url, write=True)
    store = open_store(store_url)
    holds = frozenset(store.active_legal_holds())
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    per_table, per_table_cpu = {}, {}
    start = time.perf_counter()
    meter.start()
    ctx = make_context(engine, shape, pii_map, loaded, store, holds, batch_size)
    plan = plan_run(ctx, loaded, UNTIL, tables_in_order(pii_map, shape), write=True)
    recover_pending_batches(ctx)
    planned = time.perf_counter()
    plan_cpu = _cpu_of(meter.stop())[1]
    peak_after = {"plan": status_mb("VmHWM")}
    for table in plan.tables:
        meter.start()
        act_on_table(ctx, loaded, table, UNTIL, apply=apply_to_table)
        per_table[table], per_table_cpu[table] = _cpu_of(meter.stop())
        peak_after[table] = status_mb("VmHWM")
    seconds = time.perf_counter() - start
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    out = {"seconds": seconds, "plan_seconds": planned - start, "per_table": per_table, "peak_after": peak_after,
           "cpu": plan_cpu + sum(per_table_cpu.values()), "per_table_cpu": per_table_cpu,
           "batches": len(ctx.batch_ids), "fingerprint": _fingerprint(engine, shape, pii_map)}
    engine.dispose()
    return out


# ----------------------------------------------------------------------------- (c) the complete run
def _side_full(url: str, store_url: str, batch_size: int) -> dict:
    """``run_retention`` as the CLI calls it; its steps wrapped with timers (behaviour unchanged)."""
    from patronguard.ils.piimap import builtin_pii_map
    from patronguard.retention import run as run_module
    from patronguard.retention.report import open_ils

    phases: dict[str, float] = {}
    calls: dict[str, int] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            n = calls[name] = calls.get(name, 0) + 1
            label = name if name != "validate_ils" else ("validate (ils_source)" if n == 1 else "validate (ils_after)")
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - t0
        return wrapper

    for name in ("open_ils", "validate_ils", "open_store", "make_context", "plan_run", "build_exposure_report",
                 "rows_before", "recover_pending_batches", "apply_to_table", "verify_retention",
                 "record_retention_run"):
        setattr(run_module, name, timed(name, getattr(run_module, name)))
    start = time.perf_counter()
    run = run_module.run_retention(url, POLICY, store_url=store_url, as_of=UNTIL, batch_size=batch_size)
    seconds = time.perf_counter() - start
    engine, shape = open_ils(url)
    out = {"seconds": seconds, "phases": phases, "batches": len(run.batch_ids),
           "verified": run.verification.ok if run.verification else None,
           "fingerprint": _fingerprint(engine, shape, builtin_pii_map("koha"))}
    engine.dispose()
    return out


def _child(args) -> None:
    reset_peak()
    if args.child == "floor":
        out = _side_floor(args.url)
    elif args.child == "ours":
        out = _side_ours(args.url, args.store, args.batch_size, args.profile_to)
    else:
        out = _side_full(args.url, args.store, args.batch_size)
    out["peak_rss_mb"] = status_mb("VmHWM")
    print(json.dumps(out))


# ----------------------------------------------------------------------------- orchestration
def _run_side(side: str, url: str, store: str, batch_size: int, profile_to: str | None = None) -> dict:
    env = os.environ | {"PATRONGUARD_HASH_KEY": os.environ.get("PATRONGUARD_HASH_KEY", HASH_KEY)}
    cmd = [sys.executable, __file__, "--child", side, "--url", url, "--store", store, "--batch-size", str(batch_size)]
    if profile_to:
        cmd += ["--profile-to", profile_to]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spec(loans: int):
    from patronguard.ils import LibrarySpec

    return LibrarySpec(patrons=max(2000, loans // 25), loans=loans, years=5, seed=11, until=UNTIL)


class _Copies:
    """A master ILS built once, and identical copies of it (each used once)."""

    def __init__(self, backend: str, workdir: Path, loans: int, prebuilt: Path | None = None):
        self.backend, self.workdir, self.loans, self.prebuilt = backend, workdir, loans, prebuilt
        self.made: list[str] = []
        if backend == "sqlite":
            self.master_path = prebuilt or workdir / f"master-{loans}.db"
            self.master = f"sqlite:///{self.master_path}"
        else:
            self.master = self._create_database()

    def _admin(self):
        import sqlalchemy as sa

        db = "test" if self.backend == "mariadb" else "postgres"
        return sa.create_engine(f"{SERVERS[self.backend]}/{db}", isolation_level="AUTOCOMMIT")

    def _create_database(self, template: str | None = None) -> str:
        name = f"pg_bench_{uuid.uuid4().hex[:10]}"
        admin = self._admin()
        try:
            with admin.connect() as conn:
                if self.backend == "mariadb":
                    conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
                else:
                    conn.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        finally:
            admin.dispose()
        self.made.append(name)
        return f"{SERVERS[self.backend]}/{name}"

    def build(self) -> float:
        from patronguard.ils import init_ils

        if self.prebuilt:
            return 0.0
        start = time.perf_counter()
        init_ils(self.master, _spec(self.loans), koha_version=KOHA_LINE)
        return time.perf_counter() - start

    def copy(self, label: str) -> str:
        if self.backend == "sqlite":
            path = self.workdir / f"{label}-{self.loans}.db"
            shutil.copyfile(self.master_path, path)
            return f"sqlite:///{path}"
        if self.backend == "postgresql":
            return self._create_database(template=self.master.rsplit("/", 1)[1])
        return self._mariadb_copy()

    def _mariadb_copy(self) -> str:
        """Same DDL (indexes, foreign keys, AUTO_INCREMENT), same rows, same statistics."""
        import sqlalchemy as sa

        source = self.master.rsplit("/", 1)[1]
        url = self._create_database()
        target = url.rsplit("/", 1)[1]
        engine = sa.create_engine(f"{SERVERS['mariadb']}/{target}")
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0, UNIQUE_CHECKS = 0")
                tables = [r[0] for r in conn.exec_driver_sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_type = 'BASE TABLE' ORDER BY table_name", (source,))]
                for t in tables:
                    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{source}`.`{t}`").one()[1]
                    conn.exec_driver_sql(ddl)
                    conn.exec_driver_sql(f"INSERT INTO `{t}` SELECT * FROM `{source}`.`{t}`")
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1, UNIQUE_CHECKS = 1")
                for t in tables:
                    conn.exec_driver_sql(f"ANALYZE TABLE `{t}`").all()
        finally:
            engine.dispose()
        return url

    def release(self, url: str) -> None:
        if self.backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        name = url.rsplit("/", 1)[1]
        admin = self._admin()
        try:
            with admin.connect() as conn:
                force = " WITH (FORCE)" if self.backend == "postgresql" else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        finally:
            admin.dispose()
        if name in self.made:
            self.made.remove(name)

    def close(self) -> None:
        if self.backend == "sqlite":
            return
        for name in list(self.made):
            self.release(f"{SERVERS[self.backend]}/{name}")


def _measure(backend: str, loans: int, workdir: Path, repeat: int, batch_size: int, full: bool,
             profile_dir: Path | None, prebuilt: Path | None = None) -> dict:
    copies = _Copies(backend, workdir, loans, prebuilt)
    try:
        if prebuilt:
            print(f"using the SQLite ILS {prebuilt} as built (taken to hold {loans:,} loans)", flush=True)
        else:
            print(f"building {loans:,} loans into {backend} (Koha line {KOHA_LINE}) ...", flush=True)
        built = copies.build()
        print(f"  built in {built:.0f} s", flush=True)
        best: dict[str, dict] = {}
        sides = ["floor", "ours"] + (["full"] if full else [])
        if profile_dir:  # an extra, untimed run of (b) under cProfile (its overhead would distort the ratio)
            url = copies.copy("profile")
            store = f"sqlite:///{workdir / f'store-profile-{loans}.db'}"
            try:
                _run_side("ours", url, store, batch_size, str(profile_dir / f"ours-{backend}-{loans}.prof"))
            finally:
                copies.release(url)
                Path(store.removeprefix("sqlite:///")).unlink(missing_ok=True)
            print(f"  cProfile of (b) written to {profile_dir / f'ours-{backend}-{loans}.prof'}", flush=True)
        for i in range(repeat):
            for side in sides:
                t0 = time.perf_counter()
                url = copies.copy(f"{side}-{i}")
                copied = time.perf_counter() - t0
                store = f"sqlite:///{workdir / f'store-{side}-{loans}-{i}.db'}"
                try:
                    result = _run_side(side, url, store, batch_size)
                finally:
                    copies.release(url)
                    Path(store.removeprefix("sqlite:///")).unlink(missing_ok=True)
                print(f"  [{i + 1}/{repeat}] {side:5}: {result['seconds']:8.2f} s, peak {result['peak_rss_mb']:.0f} MB"
                      f" (copy {copied:.1f} s)", flush=True)
                if side not in best or result["seconds"] < best[side]["seconds"]:
                    best[side] = result
        prints = {side: best[side]["fingerprint"] for side in sides}
        for side in sides[1:]:
            if prints[side] != prints["floor"]:
                diff = {t: (prints["floor"].get(t), prints[side].get(t)) for t in prints["floor"]
                        if prints["floor"].get(t) != prints[side].get(t)}
                raise SystemExit(f"the floor and {side} left different ILS states (rows, links): {diff}")
        return {"loans": loans, "built": built} | best
    finally:
        copies.close()


def _report(backend: str, m: dict) -> None:
    floor, ours, full = m["floor"], m["ours"], m.get("full")
    a, b = floor["seconds"], ours["seconds"]
    print(f"\n{backend}, {m['loans']:,} loans, Koha {KOHA_LINE}, policy westchester, as of {UNTIL}:")
    print(f"  {'table':30} {'action':21} {'rows':>9} {'floor s':>8} {'(b) s':>8} {'ratio':>6}"
          f" {'floor cpu':>9} {'(b) cpu':>8} {'ratio':>6}")
    for table, seconds in floor["per_table"].items():
        theirs = ours["per_table"].get(table, float("nan"))
        cpu_a, cpu_b = floor["per_table_cpu"][table], ours["per_table_cpu"].get(table, float("nan"))
        ratio = f"{theirs / seconds:5.1f}x" if seconds > 0.0005 else ""
        cpu_ratio = f"{cpu_b / cpu_a:5.1f}x" if cpu_a > 0.0005 else ""
        print(f"  {table:30} {floor['actions'][table]:21} {floor['rows'][table]:>9,} {seconds:8.3f} "
              f"{theirs:8.3f} {ratio:>6} {cpu_a:9.3f} {cpu_b:8.3f} {cpu_ratio:>6}")
    print(f"  {'sum of per-table floors (a)':52} {sum(floor['rows'].values()):>9,} {a:8.2f} "
          f"{sum(ours['per_table'].values()):8.2f} {'':6} {floor['cpu']:9.2f} {sum(ours['per_table_cpu'].values()):8.2f}")
    print(f"  (b) patronguard acting phase: {b:.2f} s = plan+rehearsal {ours['plan_seconds']:.2f} s + tables "
          f"{sum(ours['per_table'].values()):.2f} s, {ours['batches']} batches")
    if full:
        print(f"  (c) complete run_retention: {full['seconds']:.2f} s (verified: {full['verified']}); phases:")
        for phase, seconds in sorted(full["phases"].items(), key=lambda kv: -kv[1]):
            print(f"        {phase:26} {seconds:8.2f} s")
    print(f"  ratio (b)/(a) acting phase vs floor: {b / a:.2f}x wall time, {ours['cpu'] / floor['cpu']:.2f}x CPU time "
          f"(client + local server)   (target ≤ {TARGET:.1f}x)")
    if full:
        print(f"  ratio (c)/(a) whole run (validation, exposure, plan, act, verify, after-suite) vs floor: "
              f"{full['seconds'] / a:.2f}x")
    print(f"  peak memory: floor {floor['peak_rss_mb']:.0f} MB, (b) {ours['peak_rss_mb']:.0f} MB"
          + (f", (c) {full['peak_rss_mb']:.0f} MB" if full else ""))
    steps, before = [], 0.0
    for step, peak in ours["peak_after"].items():  # where (b)'s high-water mark rose
        if peak - before >= 5:
            steps.append(f"{step} → {peak:.0f} MB")
        before = peak
    print(f"  (b) peak memory rose during: {', '.join(steps)}")
    print("  fingerprints (rows per table, links set per column) identical across the sides: yes", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="whole retention run vs the sum of per-table bare-SQL floors")
    parser.add_argument("--loans", type=int, nargs="+", default=[1_000_000],
                        help="library size(s) in loans; two sizes also compare (b)'s peak memory")
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--repeat", type=int, default=1, help="time each side this many times on fresh copies; "
                                                              "keep each side's best")
    parser.add_argument("--no-full", action="store_true", help="skip (c), the complete run_retention")
    parser.add_argument("--profile", type=Path, help="also run (b) once more, untimed, under cProfile, and write "
                        "the profile into this folder")
    parser.add_argument("--sqlite-ils", type=Path, help="SQLite only: an ILS already built by `patronguard ils init "
                        "--koha-version current` for this --loans (seed 11, until 2025-12-31), used instead of building")
    parser.add_argument("--child", choices=["floor", "ours", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return 0
    os.environ.setdefault("PATRONGUARD_HASH_KEY", HASH_KEY)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.sqlite_ils and (args.backend != "sqlite" or len(args.loans) != 1 or not args.sqlite_ils.is_file()):
        parser.error("--sqlite-ils: an existing file, with --backend sqlite and one --loans")
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pg-bench-full-") as tmp:
        for loans in args.loans:
            m = _measure(args.backend, loans, Path(tmp), args.repeat, args.batch_size, not args.no_full,
                         args.profile.resolve() if args.profile else None, args.sqlite_ils)
            _report(args.backend, m)
            results.append(m)
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"\n(b) peak memory {small['loans']:,} → {large['loans']:,} loans: {small['ours']['peak_rss_mb']:.0f} MB → "
              f"{large['ours']['peak_rss_mb']:.0f} MB ({large['ours']['peak_rss_mb'] / small['ours']['peak_rss_mb']:.2f}x "
              f"for {large['loans'] / small['loans']:.0f}x the rows)")
    last = results[-1]
    full = last.get("full")
    print(f"\nsummary: {args.backend} {last['loans']:,} loans: floor {last['floor']['seconds']:.1f} s, patronguard "
          f"acting {last['ours']['seconds']:.1f} s ({last['ours']['seconds'] / last['floor']['seconds']:.2f}x)"
          + f", CPU {last['ours']['cpu'] / last['floor']['cpu']:.2f}x"
          + (f", complete run {full['seconds']:.1f} s ({full['seconds'] / last['floor']['seconds']:.2f}x)" if full else "")
          + f"; target (b)/(a) ≤ {TARGET:.1f}x; benchmark wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
