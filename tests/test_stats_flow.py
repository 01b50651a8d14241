"""The ``anonymised-stats`` flow on a real (test) Prefect API: its tasks in order, files written and scanned,
the audit event without any value, the run form typed as a request form, and bad parameters refused."""
from __future__ import annotations

import asyncio
import csv
import json

import pytest
import sqlalchemy as sa

from conftest import ROOT

POLICY = str(ROOT / "policy/westchester.yaml")


@pytest.fixture
def databases(tmp_path, small_ils_sqlite_copy, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_ILS_URL", f"sqlite:///{small_ils_sqlite_copy}")
    monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return small_ils_sqlite_copy, tmp_path / "store.db"


async def _task_names(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [r.name.rsplit("-", 1)[0] for r in sorted(runs, key=lambda r: r.start_time or r.expected_start_time)]


def run_flow(**parameters):
    from flows.anonymised_stats import anonymised_stats

    state = anonymised_stats(**parameters, return_state=True)
    return state.result(), str(state.state_details.flow_run_id)


def test_flow_counts_suppresses_writes_scans_and_records_in_order(prefect_harness, databases, tmp_path):
    ils, store = databases
    out = tmp_path / "out"
    result, run_id = run_flow(by=["quarter", "branch"], measures=["checkouts", "renewals"], requester="circ-desk-7",
                              out_dir=str(out), policy_path=POLICY)
    assert result["outcome"] == "allow" and result["k"] == 10 and result["scan"]["findings"] == 0
    names = asyncio.run(_task_names(run_id))
    order = [n for n in names if n in ("decide-stats-request", "count-and-suppress", "write-release", "scan-release",
                                       "record-stats-release")]
    assert order == ["decide-stats-request", "count-and-suppress", "write-release", "scan-release",
                     "record-stats-release"]
    with open(out / "stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"quarter", "branch", "checkouts", "renewals"}
    assert all(r["checkouts"] == "x" or r["checkouts"].isdigit() for r in rows)
    assert (out / "stats.png").read_bytes()[:4] == b"\x89PNG" and "suppressed" in (out / "summary.html").read_text()
    engine = sa.create_engine(f"sqlite:///{ils}")
    with engine.connect() as conn:
        cards = [c for (c,) in conn.execute(sa.text("SELECT cardnumber FROM borrowers WHERE cardnumber IS NOT NULL"))]
        loans = conn.execute(sa.text("SELECT (SELECT count(*) FROM issues) + (SELECT count(*) FROM old_issues)")).scalar()
    engine.dispose()
    total = next(r for r in rows if r["quarter"] == "*" and r["branch"] == "*")
    assert int(total["checkouts"]) == loans                      # every loan ever made, counted once
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        (payload,) = conn.execute(sa.text("SELECT payload FROM audit_events WHERE kind = 'anonymised-statistics'")).one()
    engine.dispose()
    event = json.loads(payload)
    assert event["actor"] == "circ-desk-7" and event["flow_run_id"] == run_id and event["decision"] == "allow"
    assert not any(card in payload for card in cards)


def test_the_run_form_is_a_request_form():
    from flows.anonymised_stats import anonymised_stats

    schema = anonymised_stats.parameters.model_dump()
    props = schema["properties"]
    definitions = json.dumps(schema.get("definitions", {}))
    # dimensions and measures are choices, dates are dates, each with its description from the docstring
    assert "month" in props["by"]["items"]["enum"] and props["by"]["description"]
    assert "distinct_patrons" in props["measures"]["items"]["enum"]
    assert {"format": "date", "type": "string"} in props["from_day"]["anyOf"] and props["from_day"]["description"]
    assert props["where"]["items"]["pattern"] and definitions
    assert set(schema["required"]) == {"by", "requester"}
    assert "url" not in json.dumps(props).lower().replace("secret", "")


@pytest.mark.parametrize("parameters", [
    {"by": ["branch; DROP TABLE borrowers"]},
    {"by": ["cardnumber"]},
    {"where": ["branch=MAIN' OR '1'='1"]},
    {"min_count": 0},
])
def test_bad_parameters_are_refused_before_anything_runs(prefect_harness, databases, tmp_path, parameters):
    from flows.anonymised_stats import anonymised_stats

    base = {"by": ["quarter"], "requester": "circ-desk-7", "out_dir": str(tmp_path / "o"), "policy_path": POLICY}
    with pytest.raises(Exception) as info:
        anonymised_stats(**(base | parameters))
    assert "validation" in str(info.value).lower() or "parameter" in str(info.value).lower()
    assert not (tmp_path / "o").exists()
