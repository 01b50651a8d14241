"""prefect.yaml validated offline; retry rules; the nightly flow on a real (test) Prefect API."""
from __future__ import annotations

import importlib
import sys

import pytest
import yaml

from conftest import ROOT, SMALL_SPEC
from patronguard.errors import DatabaseUnavailableError, PolicyError

PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text())


def test_prefect_yaml_entrypoints_import_and_are_flows():
    from prefect import Flow

    sys.path.insert(0, str(ROOT))
    for deployment in PREFECT_YAML["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["name"]


def test_prefect_yaml_schedules_parse_and_match_schedules_module():
    from prefect.client.schemas.schedules import CronSchedule

    from schedules import SCHEDULES

    for deployment in PREFECT_YAML["deployments"]:
        for schedule in deployment.get("schedules", []):
            parsed = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
            assert parsed.timezone == schedule["timezone"]
            expected = SCHEDULES[deployment["name"]]
            assert (schedule["cron"], schedule["timezone"]) == (expected.cron, expected.timezone)


def test_bad_cron_or_timezone_is_rejected_by_the_parser():
    from prefect.client.schemas.schedules import CronSchedule

    with pytest.raises(ValueError):
        CronSchedule(cron="61 2 * * *", timezone="America/New_York")
    with pytest.raises(ValueError):
        CronSchedule(cron="30 2 * * *", timezone="Mars/Olympus")


def test_prefect_yaml_parameters_match_the_flow_signature():
    import inspect

    sys.path.insert(0, str(ROOT))
    for deployment in PREFECT_YAML["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]


def test_every_deployment_of_design_md_is_declared():
    names = {d["name"] for d in PREFECT_YAML["deployments"]}
    assert {"nightly-retention", "director-purge", "disclosure-request"} <= names


class _State:
    def __init__(self, exc):
        self.data = exc


def test_tasks_retry_transient_errors_only():
    from sqlalchemy.exc import OperationalError

    from tasks.policy import retry_transient

    assert retry_transient(None, None, _State(DatabaseUnavailableError("down")))
    assert retry_transient(None, None, _State(OperationalError("SELECT 1", {}, Exception("gone away"))))
    assert not retry_transient(None, None, _State(PolicyError("bad policy")))
    assert not retry_transient(None, None, _State(ValueError("bug")))


def test_patron_data_tasks_never_persist_or_cache():
    from prefect.cache_policies import NO_CACHE

    import tasks.retention as t

    for name in dir(t):
        obj = getattr(t, name)
        if hasattr(obj, "fn") and hasattr(obj, "persist_result"):
            assert obj.persist_result is False, name
            assert obj.cache_policy is NO_CACHE, name


def test_nightly_flow_reports_publishes_and_records(prefect_harness, small_ils_sqlite_copy, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client

    from flows.nightly_retention import nightly_retention
    from patronguard.retention import exposure_report
    from patronguard.store import open_store

    ils_url = f"sqlite:///{small_ils_sqlite_copy}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    policy = str(ROOT / "policy/westchester.yaml")
    monkeypatch.setenv("PATRONGUARD_ILS_URL", ils_url)
    monkeypatch.setenv("PATRONGUARD_STORE_URL", store_url)
    report = nightly_retention(policy_path=policy, as_of=SMALL_SPEC["until"].isoformat(),
                               report_dir=str(tmp_path / "reports"), dry_run=True)
    direct = exposure_report(ils_url, policy, store_url=f"sqlite:///{tmp_path / 'other.db'}", as_of=SMALL_SPEC["until"])
    assert [(t.table, t.past_retention, t.actionable, t.exempt) for t in report.tables] == \
           [(t.table, t.past_retention, t.actionable, t.exempt) for t in direct.tables]
    assert (tmp_path / "reports" / f"exposure-{SMALL_SPEC['until'].isoformat()}.md").exists()
    assert len(open_store(store_url).runs("exposure-report")) == 1

    async def latest_artifact():
        async with get_client() as client:
            return await client.read_latest_artifacts()

    import asyncio

    artifacts = [a for a in asyncio.run(latest_artifact()) if a.key == "privacy-exposure"]
    assert artifacts and "Privacy exposure" in artifacts[0].data


def test_nightly_flow_fails_on_bad_policy_without_writing(prefect_harness, small_ils_sqlite_copy, tmp_path,
                                                         monkeypatch):
    from flows.nightly_retention import nightly_retention

    bad = tmp_path / "p.yaml"
    bad.write_text("policy: {}\n")
    with pytest.raises(PolicyError):
        monkeypatch.setenv("PATRONGUARD_ILS_URL", f"sqlite:///{small_ils_sqlite_copy}")
        monkeypatch.setenv("PATRONGUARD_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
        nightly_retention(policy_path=str(bad))
    assert not (tmp_path / "store.db").exists()


def test_prefect_yaml_is_valid_for_prefect_deploy_with_one_nightly_run_at_a_time():
    from prefect.cli.deploy._models import PrefectYamlModel

    from flows.serve import CONCURRENCY

    model = PrefectYamlModel.model_validate(PREFECT_YAML)
    limits = {d.name: d.concurrency_limit for d in model.deployments}
    assert limits["nightly-retention"] == 1 == CONCURRENCY["nightly-retention"]
    nightly = next(d for d in PREFECT_YAML["deployments"] if d["name"] == "nightly-retention")
    assert all(s.get("timezone") for s in nightly["schedules"])   # the schedule card shows its time zone
    purge = next(d for d in PREFECT_YAML["deployments"] if d["name"] == "director-purge")
    assert "scope" not in purge.get("parameters", {})              # the Director chooses; no default scope


def test_serve_builds_its_deployments_with_time_zone_and_concurrency_limit():
    """What ``python -m flows.serve`` serves, built without starting the server loop."""
    from prefect.client.schemas.schedules import CronSchedule

    import flows.serve as serve
    from schedules import NIGHTLY_RETENTION

    built = {d.name: d for d in serve.deployments()}
    assert set(built) == {d["name"] for d in PREFECT_YAML["deployments"]}
    nightly = built["nightly-retention"]
    (schedule,) = nightly.schedules
    assert isinstance(schedule.schedule, CronSchedule)
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (NIGHTLY_RETENTION.cron, NIGHTLY_RETENTION.timezone)
    assert schedule.active is not False
    limit = nightly.concurrency_limit
    assert (limit if isinstance(limit, int) else limit.limit) == 1
    for deployment in built.values():
        assert not [p for p in deployment._parameter_openapi_schema.properties if "url" in p.lower()], deployment.name
    assert not built["director-purge"].schedules and not built["disclosure-request"].schedules


def test_serve_main_passes_the_built_deployments_to_prefect_serve(monkeypatch):
    import flows.serve as serve

    served = []
    monkeypatch.setattr(serve, "serve", lambda *deployments: served.extend(deployments))
    serve.main()
    assert [d.name for d in served] == ["nightly-retention", "director-purge", "disclosure-request", "share-export",
                                        "anonymised-stats"]
