"""No secret in Prefect: database URLs come from the worker's environment or a Secret block, never from a flow
parameter, and a password in them reaches neither Prefect's database nor its logs, parameters or artifacts."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ROOT
from dbs import fresh_database
from patronguard.ils import LibrarySpec, init_ils

POLICY = str(ROOT / "policy/westchester.yaml")
SPEC = dict(patrons=60, loans=600, years=4, seed=11, until=dt.date(2026, 6, 30))
ENV_PASSWORD = "S3cretPw0rd"
BLOCK_PASSWORD = "Bl0ckPassw0rdXq"


def _with_password(url: str, password: str) -> str:
    """The same PostgreSQL database with a password in the URL (trust authentication accepts any)."""
    return sa.engine.make_url(url).set(password=password).render_as_string(hide_password=False)


def _prefect_database() -> Path:
    from prefect.settings import get_current_settings

    value = get_current_settings().server.database.connection_url
    value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return Path(sa.engine.make_url(value).database)


async def _what_prefect_holds() -> list[str]:
    """Every flow run's parameters and state message, every log line and every artifact, as Prefect serves them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    texts = []
    async with get_client() as client:
        for run in await client.read_flow_runs(limit=200):
            texts.append(json.dumps(run.parameters, default=str))
            texts.append(str(run.state.message if run.state else ""))
            texts.append(run.name)
        offset = 0
        while True:
            logs = await client.read_logs(log_filter=LogFilter(), limit=200, offset=offset)
            texts += [log.message for log in logs]
            if len(logs) < 200:
                break
            offset += 200
        texts += [json.dumps(a.data, default=str) + str(a.description) for a in await client.read_artifacts(limit=200)]
        for deployment in await client.read_deployments():
            texts.append(json.dumps(deployment.parameters, default=str))
    return texts


CONTROL = "C0ntrolParameterValueZq"


def _control_flow(value: str) -> None:
    from prefect import flow

    @flow(name="patronguard-test-control", persist_result=False)
    def control(canary: str) -> None:
        return None

    control(value)


def _files_under(path: Path):
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_a_password_in_the_database_urls_reaches_no_prefect_storage(prefect_harness, tmp_path, monkeypatch, caplog):
    from prefect.blocks.system import Secret
    from prefect.settings import get_current_settings

    from flows.director_purge import director_purge
    from flows.nightly_retention import nightly_retention

    with fresh_database("postgresql", tmp_path) as ils, fresh_database("postgresql", tmp_path) as store, \
            fresh_database("postgresql", tmp_path) as block_store:
        init_ils(ils, LibrarySpec(**SPEC))
        monkeypatch.setenv("PATRONGUARD_ILS_URL", _with_password(ils, ENV_PASSWORD))
        monkeypatch.setenv("PATRONGUARD_STORE_URL", _with_password(store, ENV_PASSWORD))
        run = nightly_retention(policy_path=POLICY, as_of=SPEC["until"].isoformat(), batch_size=200,
                                report_dir=str(tmp_path / "reports"))
        assert run.verification.ok and run.batch_ids
        # the store named by a Secret block (its name is a parameter; its value is Prefect's secret)
        Secret(value=_with_password(block_store, BLOCK_PASSWORD)).save("patronguard-test-store", overwrite=True)
        refused = director_purge({"kind": "older-than", "days": 30}, "Dana Director", policy_path=POLICY,
                                 databases={"store_secret": "patronguard-test-store"}, return_state=True)
        assert refused.is_failed() and "no written authorization" in refused.message
        with sa.create_engine(block_store).connect() as conn:   # the run really used the block's store
            assert conn.execute(sa.text("SELECT COUNT(*) FROM audit_events")).scalar() >= 1

    _control_flow(CONTROL)   # a value that *is* a parameter: the searches below must find it
    held = asyncio.run(_what_prefect_holds())
    assert any(CONTROL in text for text in held)
    assert any("ILS database: postgresql+psycopg://postgres:***@" in text for text in held), \
        "the flow logs the masked URL it uses"
    assert any(json.dumps({"store_secret": "patronguard-test-store"})[1:-1] in text for text in held)
    for text in held:
        assert ENV_PASSWORD not in text and BLOCK_PASSWORD not in text, text[:200]
    assert ENV_PASSWORD not in caplog.text and BLOCK_PASSWORD not in caplog.text

    settings = get_current_settings()
    database = _prefect_database()
    assert database.exists()
    places = [database, *database.parent.glob(database.name + "*"),
              *_files_under(Path(settings.results.local_storage_path)), *_files_under(Path(settings.home)),
              *_files_under(tmp_path / "reports")]
    assert any(CONTROL.encode() in place.read_bytes() for place in places)
    for place in places:
        data = place.read_bytes()
        assert ENV_PASSWORD.encode() not in data, f"the environment's password is in {place}"
        assert BLOCK_PASSWORD.encode() not in data, f"the Secret block's password is in {place} unencrypted"


@pytest.mark.parametrize("flow_module, flow_name", [
    ("flows.nightly_retention", "nightly_retention"), ("flows.director_purge", "director_purge"),
    ("flows.disclosure_request", "disclosure_request"),
])
def test_no_flow_takes_a_database_url_parameter(flow_module, flow_name):
    import importlib
    import inspect

    import yaml

    flow = getattr(importlib.import_module(flow_module), flow_name)
    names = set(inspect.signature(flow.fn).parameters)
    assert not {n for n in names if "url" in n.lower()}, names
    for deployment in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]:
        assert not {n for n in deployment.get("parameters", {}) if "url" in n.lower()}, deployment["name"]


def test_a_url_typed_into_the_secret_block_field_is_rejected():
    from pydantic import ValidationError

    from flows.forms import Connections

    with pytest.raises(ValidationError):
        Connections(ils_secret=f"postgresql+psycopg://postgres:{ENV_PASSWORD}@127.0.0.1/ils")
