"""Great Expectations suites, stored as JSON under ``expectations/<name>/<table>.json``
and run in-database against the ILS (no rows are pulled into Python).

Results are reduced to counts: expectation, table, column(s), success and the
number of unexpected rows — never the values, which may be patron data.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from ..errors import TerminalError, ValidationFailedError
from ..ils.shape import IlsShape

EXPECTATIONS_DIR = Path(os.environ.get("PATRONGUARD_EXPECTATIONS", Path(__file__).resolve().parent / "expectations"))


class SuiteFileError(TerminalError):
    """An expectation suite file is missing or malformed."""


@dataclass
class ExpectationOutcome:
    table: str
    expectation: str
    columns: list[str]
    success: bool
    unexpected_count: int | None = None
    why: str | None = None


@dataclass
class ValidationSummary:
    suite: str
    success: bool
    evaluated: int
    failed: int
    skipped: list[str] = field(default_factory=list)
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def failure_line(self) -> str:
        bad = [o for o in self.outcomes if not o.success]
        parts = [
            f"{o.table}.{'/'.join(o.columns)}: {o.why or o.expectation}"
            + (f" ({o.unexpected_count:,} rows)" if o.unexpected_count else "")
            for o in bad[:3]
        ]
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        return f"suite {self.suite} failed: " + "; ".join(parts) + more


def load_suite_documents(name: str, directory: Path | None = None) -> dict[str, dict]:
    """table → suite JSON document, for the suite called ``name``."""
    folder = (directory or EXPECTATIONS_DIR) / name
    files = sorted(folder.glob("*.json"))
    if not files:
        raise SuiteFileError(f"expectation suite {name!r}: no JSON files in {folder}")
    docs = {}
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SuiteFileError(f"{path}: not a readable JSON expectation suite ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
            raise SuiteFileError(f"{path}: expected an object with an 'expectations' list")
        docs[path.stem] = doc
    return docs


def _columns_of(kwargs: dict) -> list[str]:
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


def _gx_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _add_datasource(context, engine: Engine):
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return context.data_sources.add_sqlite("ils", connection_string=url)
    if engine.dialect.name == "postgresql":
        return context.data_sources.add_postgres("ils", connection_string=url)
    return context.data_sources.add_sql("ils", connection_string=url)


def validate_ils(engine: Engine, shape: IlsShape, suite: str = "ils_source", *,
                 now: dt.datetime | None = None, parameters: dict | None = None,
                 documents: dict[str, dict] | None = None) -> ValidationSummary:
    """Run suite ``suite`` against the ILS; tables or columns it lacks are skipped and listed.

    ``now``/``today`` (tomorrow, to allow for clock skew) are always available
    as ``$PARAMETER``s; ``parameters`` adds more (e.g. row counts before a run).
    ``documents`` (table → suite document) replaces the suite's files: the
    after-run suite as the policy makes it (:mod:`.after`).
    """
    from great_expectations.core import ExpectationSuite

    now = now or dt.datetime.now()
    params = {"now": now + dt.timedelta(days=1), "today": (now + dt.timedelta(days=1)).date(), **(parameters or {})}
    docs = documents if documents is not None else load_suite_documents(suite)
    context = _gx_context()
    datasource = _add_datasource(context, engine)
    summary = ValidationSummary(suite=suite, success=True, evaluated=0, failed=0)
    for table, doc in docs.items():
        if table not in shape.tables:
            summary.skipped.append(f"{table} (table absent)")
            continue
        present = shape.tables[table].c
        expectations = []
        for exp in doc["expectations"]:
            missing = [c for c in _columns_of(exp.get("kwargs", {})) if c not in present]
            if missing:
                summary.skipped.append(f"{table}.{missing[0]} (column absent): {exp['type']}")
            else:
                expectations.append(exp)
        if not expectations:
            continue
        try:
            gx_suite = context.suites.add(ExpectationSuite(**{**doc, "expectations": expectations}))
        except Exception as exc:  # GX raises many types for a bad document
            raise SuiteFileError(f"expectation suite {suite}/{table}.json is invalid: {exc}") from None
        batch = datasource.add_table_asset(table, table_name=table).add_batch_definition_whole_table("all").get_batch()
        result = batch.validate(gx_suite, expectation_parameters=params, result_format="BASIC")
        for r in result.results:
            cfg = r.expectation_config
            count = (r.result or {}).get("unexpected_count")
            summary.outcomes.append(ExpectationOutcome(
                table=table, expectation=cfg.type, columns=_columns_of(cfg.kwargs), success=bool(r.success),
                unexpected_count=int(count) if count is not None else None, why=(cfg.meta or {}).get("why"),
            ))
    summary.evaluated = len(summary.outcomes)
    summary.failed = sum(1 for o in summary.outcomes if not o.success)
    summary.success = summary.failed == 0
    return summary


def require_valid(summary: ValidationSummary) -> ValidationSummary:
    """Raise ValidationFailedError (terminal) if the suite failed."""
    if not summary.success:
        raise ValidationFailedError(summary.failure_line())
    return summary
