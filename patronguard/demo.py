"""``patronguard demo``: a synthetic ILS and the nightly flow on an ephemeral Prefect API.

Everything lands under ``--dir`` (default: :func:`patronguard.settings.var_dir`): the demo ILS, the store,
the reports, keys, audit checkpoints and Prefect's own home, so the demo never touches anything else.
Before anything is created the folder is checked: an ``ils.db`` that is not a
Koha-shaped SQLite database (someone else's file or database) or a
``patronguard.db`` that is not a store is refused, never reused or overwritten.
A second demo reuses its own ILS and store and replaces its own report of the day.
"""
from __future__ import annotations

import inspect
import os
import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from . import settings
from .errors import InputError
from .outputs import check_folder, is_sqlite_file

Say = Callable[[str], None]


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_tables(path: Path) -> set[str] | None:
    """The tables of an existing file, read-only; None if it is not a SQLite database (an empty file has none)."""
    if not path.is_file():
        return None
    if path.stat().st_size == 0:
        return set()
    if not is_sqlite_file(path):
        return None
    try:
        with closing(sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)) as conn:
            return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return None


def check_demo_dir(root: Path) -> bool:
    """Refuse a demo folder holding something that is not the demo's; True if a demo ILS is there to reuse."""
    check_folder(root, "--dir")
    for sub in ("reports", "prefect"):
        if (root / sub).exists() and not (root / sub).is_dir():
            raise InputError(f"--dir: {root / sub} exists and is not a directory; refusing to use {root}")
    ils_path, store_path = root / "ils.db", root / "patronguard.db"
    ils_tables = _sqlite_tables(ils_path) if ils_path.exists() or ils_path.is_symlink() else set()
    if ils_tables is None or (ils_tables and "borrowers" not in ils_tables):
        raise InputError(f"--dir: {ils_path} exists and is not a demo ILS (a SQLite database with Koha tables); "
                         "refusing to use or overwrite it (choose another --dir)")
    store_tables = _sqlite_tables(store_path) if store_path.exists() or store_path.is_symlink() else set()
    if store_tables is None or "borrowers" in store_tables:
        raise InputError(f"--dir: {store_path} exists and is not a patronguard store; "
                         "refusing to use or overwrite it (choose another --dir)")
    return bool(ils_tables)


@contextmanager
def _environment(**values: str):
    """These environment variables for the demo only (restored after)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(*, var_dir: str | None, policy: str | None, patrons: int, loans: int,
             say: Say, show: Say) -> None:
    root = (Path(var_dir).expanduser() if var_dir else settings.var_dir()).resolve()
    # every file the run writes (keys, audit checkpoints and pins, reports) under ``root``; the flow reads
    # its databases from the environment, as on a worker (never from its parameters)
    with _environment(PATRONGUARD_VAR=str(root), PATRONGUARD_ILS_URL=_sqlite_url(root / "ils.db"),
                      PATRONGUARD_STORE_URL=_sqlite_url(root / "patronguard.db")):
        _run_demo(root, policy=policy, patrons=patrons, loans=loans, say=say, show=show)


def _run_demo(root: Path, *, policy: str | None, patrons: int, loans: int, say: Say, show: Say) -> None:
    ils_path, store_path, reports = root / "ils.db", root / "patronguard.db", root / "reports"
    policy_file = settings.policy_path(policy)
    ils_url, store_url = _sqlite_url(ils_path), _sqlite_url(store_path)

    from .policy import load_policy

    loaded = load_policy(policy_file)  # a bad policy fails before anything is created
    reuse = check_demo_dir(root)       # and so does a folder holding someone else's files
    root.mkdir(parents=True, exist_ok=True)
    say(f"[1/3] Demo ILS {ils_path}")
    if reuse:
        say("      already there; reusing it (delete the file to start afresh)")
    else:
        from .ils import LibrarySpec, init_ils

        say(f"      creating a synthetic library: {patrons:,} patrons, {loans:,} loans (invented people, seeded)")
        started = time.monotonic()
        init_ils(ils_url, LibrarySpec(patrons=patrons, loans=loans), progress=lambda m: say(f"      {m}"))
        say(f"      done in {time.monotonic() - started:.1f} s")

    os.environ.setdefault("PREFECT_HOME", str((root / "prefect").resolve()))
    settings.quiet_third_parties()
    say("[2/3] Starting Prefect with an ephemeral local API (takes 10-20 s the first time)...")
    from flows.nightly_retention import nightly_retention

    say(f"[3/3] Running flow nightly-retention with {loaded.library}'s policy {loaded.version}: "
        "validate, measure, aggregate then strip, delete, verify")
    started = time.monotonic()
    accepted = inspect.signature(getattr(nightly_retention, "fn", nightly_retention)).parameters
    urls = {"ils_url": ils_url, "store_url": store_url}   # (older flows took them as parameters)
    run = nightly_retention(policy_path=policy_file, report_dir=str(reports),
                            **{name: value for name, value in urls.items() if name in accepted})
    say(f"      flow finished in {time.monotonic() - started:.1f} s")

    from .retention import render_text
    from .retention.render_run import render_run_text
    from .retention.run import verify_only

    after = verify_only(ils_url, policy_file, store_url=store_url, as_of=run.as_of)
    show("")
    show("BEFORE the run:")
    show(render_text(run.before))
    show("")
    show(render_run_text(run))
    show("")
    show("AFTER the run (patronguard retention verify):")
    show(f"  {after.exposure.past_retention:,} rows past retention still identify a patron, all exempt "
         f"({after.exposure.actionable:,} actionable); verification {'passed' if after.ok else 'FAILED'}")
    for source, events in sorted(after.warehouse_events.items()):
        show(f"  warehouse keeps {events:,} {source} rows as statistics (ledger: {after.ledger_aggregated.get(source, 0):,})")
    show("")
    stem = f"exposure-{run.as_of.isoformat()}"
    show("Files:")
    show(f"  ILS (synthetic):  {ils_path}")
    show(f"  store:            {store_path}")
    show(f"  report:           {reports / (stem + '.md')} and {reports / (stem + '.json')}")
    show(f"  Prefect home:     {os.environ['PREFECT_HOME']} (artifacts 'privacy-exposure', 'retention-run')")
    show(f"Next: patronguard retention verify --db sqlite:///{ils_path} --store sqlite:///{store_path}")
