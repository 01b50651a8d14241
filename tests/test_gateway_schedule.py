"""The nightly run asks the gateway first: the adopted schedule is its authorization."""
from __future__ import annotations

import pytest

from conftest import ROOT
from patronguard.gateway import decide, parse_request
from patronguard.policy import load_policy
from patronguard.retention.authorize import authorize_scheduled_run, scheduled_run_request

POLICIES = {name: load_policy(ROOT / f"policy/{name}.yaml") for name in ("westchester", "westport")}


@pytest.mark.parametrize("name, cite", [("westchester", "Westchester §2"), ("westport", "Westport §3")])
def test_westchester_s2_and_westport_s3_scheduled_retention_is_allowed_by_the_schedule(name, cite):
    decision = authorize_scheduled_run(POLICIES[name])
    assert decision.outcome == "allow" and decision.clauses == [cite]


@pytest.mark.parametrize("name", ["westchester", "westport"])
@pytest.mark.parametrize("role", ["staff", "third_party", "board", "designee"])
def test_westchester_s2_and_westport_s3_nobody_else_runs_the_schedule(name, role):
    document = scheduled_run_request().model_dump(mode="json")
    document["requester"]["role"] = role
    assert decide(parse_request(document), POLICIES[name]).outcome == "deny"
