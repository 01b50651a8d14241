"""The privacy-exposure report end to end, as plain Python (the CLI's path;
the ``nightly_retention`` flow runs the same steps as Prefect tasks).

Order matters for "nothing half-written": every input is checked (policy,
date, ILS shape, source validation) before the store is opened and the run
recorded; nothing is ever written to the ILS.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import Engine

from .. import settings
from ..db import connect
from ..ils.piimap import PiiMap, builtin_pii_map
from ..ils.shape import IlsShape, inspect_ils
from ..policy import LoadedPolicy, load_policy
from ..store import Store, open_store
from ..validate import ValidationSummary, require_valid, validate_ils
from .asof import resolve_as_of
from .exposure import ExposureReport, build_exposure_report
from .render import render_json, render_markdown

Progress = Callable[[str], None]


def open_ils(url: str | None, pii_map: PiiMap | None = None, *, write: bool = False,
             scan_unmapped: bool = True) -> tuple[Engine, IlsShape]:
    """Connect to an existing ILS and check it is Koha-shaped."""
    engine = connect(settings.ils_url(url), option="--db", must_exist=True, write=write)
    try:
        return engine, inspect_ils(engine, pii_map or builtin_pii_map("koha"), scan_unmapped=scan_unmapped)
    except Exception:
        engine.dispose()
        raise


@contextmanager
def opened_ils(url: str | None, *, write: bool = False, scan_unmapped: bool = True):
    """``open_ils`` for one unit of work: yields (engine, shape), closes the connections afterwards."""
    engine, shape = open_ils(url, write=write, scan_unmapped=scan_unmapped)
    try:
        yield engine, shape
    finally:
        engine.dispose()


def run_summary(report: ExposureReport) -> dict:
    """What the store and Prefect may keep of a report: counts and dates, no patron values."""
    data = report.to_dict()
    return {
        "as_of": data["as_of"], "totals": data["totals"],
        "tables": {t["table"]: {k: t[k] for k in ("past_retention", "exempt", "actionable", "oldest")}
                   for t in data["tables"]},
        "validation": {k: v for k, v in (report.validation or {}).items() if k in ("suite", "success", "evaluated", "failed")},
    }


def record_report(store: Store, report: ExposureReport, started_at: dt.datetime) -> str:
    return store.record_run(
        kind="exposure-report", started_at=started_at, as_of=report.as_of, ils=report.ils,
        policy_library=report.policy_library, policy_version=report.policy_version,
        policy_sha256=report.policy_sha256, outcome="ok", summary=run_summary(report),
    )


def write_report_files(report: ExposureReport, out_dir: str | Path) -> list[Path]:
    """Write ``exposure-<as_of>.json`` and ``.md`` under ``out_dir``; return their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"exposure-{report.as_of.isoformat()}"
    paths = [folder / f"{stem}.json", folder / f"{stem}.md"]
    for path, text in zip(paths, (render_json(report), render_markdown(report))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return paths


def exposure_report(ils_url: str | None = None, policy_path: str | None = None, *, store_url: str | None = None,
                    as_of: str | dt.date | None = None, validate: bool = True, record: bool = True,
                    progress: Progress | None = None) -> ExposureReport:
    """Check inputs, validate the source, measure exposure, record the run in the store."""
    say = progress or (lambda _msg: None)
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    loaded: LoadedPolicy = load_policy(settings.policy_path(policy_path))
    day = resolve_as_of(as_of, loaded.policy.tz)
    say(f"policy {loaded.library} version {loaded.version}; as of {day.isoformat()}")
    engine, shape = open_ils(ils_url)
    try:
        validation: ValidationSummary | None = None
        if validate:
            say("validating the ILS with the ils_source expectation suite")
            validation = require_valid(validate_ils(engine, shape))
        if record:
            from .preflight import require_separate_store

            require_separate_store(ils_url, store_url)  # opening the store creates its tables
        store = open_store(store_url) if record else None
        holds = frozenset(store.active_legal_holds()) if store else frozenset()
        say("measuring patron data past retention")
        report = build_exposure_report(engine, shape, builtin_pii_map("koha"), loaded, day, holds)
        report.validation = validation.to_dict() if validation else None
        if store:
            record_report(store, report, started)
            store.engine.dispose()
        return report
    finally:
        engine.dispose()
