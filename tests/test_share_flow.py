"""The ``share-export`` flow on a real (test) Prefect API: its tasks in order, the same outcome as the core,
refusals and retries; and the Dask task runner (a local cluster) giving the same result as no Dask."""
from __future__ import annotations

import asyncio
import csv
import json

import pytest
import sqlalchemy as sa

from conftest import ROOT

STATS_REQUEST = str(ROOT / "examples/share/board-statistics-request.json")
STATS_FILE = str(ROOT / "examples/share/branch-circulation-2026-06.csv")
POLICY = str(ROOT / "policy/westchester.yaml")


@pytest.fixture
def where(tmp_path, small_ils_sqlite_copy, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_ILS_URL", f"sqlite:///{small_ils_sqlite_copy}")
    monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return dict(share_dir=str(tmp_path / "share"), quarantine_dir=str(tmp_path / "quarantine"),
                policy_path=POLICY)


def planted_export(tmp_path, ils_path, rows: int = 300):
    """A statistics export of ``rows`` rows with one patron's card and name planted in a note."""
    engine = sa.create_engine(f"sqlite:///{ils_path}")
    with engine.connect() as conn:
        card, first, surname = conn.execute(sa.text(
            "SELECT cardnumber, firstname, surname FROM borrowers WHERE borrowernumber = 9")).one()
    engine.dispose()
    path = tmp_path / "monthly-stats.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["branch", "day", "checkouts", "note"])
        for i in range(rows):
            note = f"{first} {surname} lost card {card}" if i == rows - 7 else ("Grace period ends" if i % 50 else "")
            writer.writerow([f"Branch {i % 4}", f"2026-06-{1 + i % 30:02d}", str(100 + i), note])
    return path, (card, first, surname)


async def _task_names(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                           sort=TaskRunSort.EXPECTED_START_TIME_ASC)
    return [r.name.rsplit("-", 1)[0] for r in sorted(runs, key=lambda r: r.start_time or r.expected_start_time)]


def run_flow(**parameters):
    from flows.share_export import share_export

    state = share_export(**parameters, return_state=True)
    return state.result(), str(state.state_details.flow_run_id)


def test_flow_runs_the_gate_tasks_in_order_and_releases(prefect_harness, where):
    result, run_id = run_flow(file_path=STATS_FILE, to="library-board", request_path=STATS_REQUEST, actor="staff-3",
                              **where)
    assert result["outcome"] == "released" and result["audit_seq"] == 1
    names = asyncio.run(_task_names(run_id))
    order = [n for n in names if n in ("check-export", "decide-share", "load-known-patrons", "scan-export",
                                       "release-or-quarantine", "record-share")]
    assert order == ["check-export", "decide-share", "load-known-patrons", "scan-export", "release-or-quarantine",
                     "record-share"]
    again, _ = run_flow(file_path=STATS_FILE, to="library-board", request_path=STATS_REQUEST, actor="staff-3",
                        **where)
    assert again["retried"] and again["audit_seq"] == result["audit_seq"]


def test_flow_refuses_another_recipient_before_reading(prefect_harness, where, tmp_path):
    result, run_id = run_flow(file_path=STATS_FILE, to="acme-collections", request_path=STATS_REQUEST,
                              actor="staff-3", **where)
    assert result["outcome"] == "refused" and result["scan"] is None
    assert "scan-export" not in asyncio.run(_task_names(run_id))
    assert not (tmp_path / "share").exists()


def test_flow_parameters_are_typed_and_hold_no_url(prefect_harness):
    from flows.share_export import share_export

    with pytest.raises(Exception, match="to"):
        share_export(file_path=STATS_FILE, to="../etc", request_path=STATS_REQUEST, actor="x")
    names = set(share_export.parameters.properties)
    assert not [n for n in names if "url" in n.lower()]


def test_dask_local_cluster_gives_the_same_result_as_in_process(prefect_harness, where, tmp_path,
                                                                small_ils_sqlite_copy, monkeypatch):
    export, values = planted_export(tmp_path, small_ils_sqlite_copy)
    common = dict(file_path=str(export), to="library-board", request_path=STATS_REQUEST, actor="staff-3",
                  chunk_rows=100)
    plain, _ = run_flow(**common, **dict(where, share_dir=str(tmp_path / "a"), quarantine_dir=str(tmp_path / "qa")))
    # a second store: the same share again, judged anew (not a retry of the first)
    monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{tmp_path / 'store-dask.db'}")
    on_dask, run_id = run_flow(**common, dask_from_mb=0, dask_workers=2,
                               **dict(where, share_dir=str(tmp_path / "b"), quarantine_dir=str(tmp_path / "qb")))
    assert plain["outcome"] == on_dask["outcome"] == "quarantined"
    assert plain["scan"] == on_dask["scan"] and plain["scan"]["rows"] == 300
    assert plain["blocking_columns"] == on_dask["blocking_columns"]
    names = asyncio.run(_task_names(run_id))
    assert names.count("judge-chunk") == 3 and "scan-export" not in names      # 300 rows, 100 a chunk
    text = json.dumps(on_dask)
    assert not any(v in text for v in values)


def test_share_tasks_never_persist_or_cache():
    from prefect.cache_policies import NO_CACHE

    import tasks.share as t

    found = [name for name in dir(t) if hasattr(getattr(t, name), "fn") and hasattr(getattr(t, name), "persist_result")]
    assert len(found) >= 9
    for name in found:
        assert getattr(t, name).persist_result is False and getattr(t, name).cache_policy is NO_CACHE, name


def test_cli_on_an_existing_dask_cluster_gives_the_same_result(capsys, tmp_path, small_ils_sqlite_copy):
    from distributed import LocalCluster

    from cli_helpers import run_cli

    export, values = planted_export(tmp_path, small_ils_sqlite_copy)
    outcomes = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        for extra in ([], ["--dask-address", cluster.scheduler_address]):
            tag = "dask" if extra else "plain"
            code, out, err = run_cli(
                capsys, "share", str(export), "--to", "library-board", "--request", STATS_REQUEST, "--policy", POLICY,
                "--db", f"sqlite:///{small_ils_sqlite_copy}", "--store", f"sqlite:///{tmp_path / f'{tag}.db'}",
                "--share-dir", str(tmp_path / f"share-{tag}"), "--quarantine-dir", str(tmp_path / f"q-{tag}"),
                "--json", *extra)
            assert code == 3, err
            outcomes.append(json.loads(out))
    plain, on_dask = outcomes
    assert plain["outcome"] == on_dask["outcome"] == "quarantined"
    assert plain["scan"] == on_dask["scan"] and plain["blocking_columns"] == on_dask["blocking_columns"]
    assert not any(v in json.dumps(on_dask) for v in values)


def test_cli_names_an_unreachable_dask_scheduler_in_one_line(capsys, tmp_path, small_ils_sqlite_copy):
    from cli_helpers import run_cli

    export, _ = planted_export(tmp_path, small_ils_sqlite_copy, rows=10)
    code, out, err = run_cli(
        capsys, "share", str(export), "--to", "library-board", "--request", STATS_REQUEST, "--policy", POLICY,
        "--db", f"sqlite:///{small_ils_sqlite_copy}", "--store", f"sqlite:///{tmp_path / 's.db'}",
        "--share-dir", str(tmp_path / "share"), "--quarantine-dir", str(tmp_path / "q"),
        "--dask-address", "tcp://127.0.0.1:9")
    assert code == 2 and err.count("\n") == 1 and "--dask-address" in err
    assert not (tmp_path / "share").exists() and not (tmp_path / "q").exists()
