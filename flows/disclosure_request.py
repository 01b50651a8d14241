"""disclosure-request: take a stored request (by id) through the gateway and record the decision.

Desk staff or the Director submit a request with `patronguard request submit`;
this flow decides it under the library's policy (signed authorizations really
verified), moves it to the state its outcome calls for, opens obligations and
places a legal hold when legal process backs it. Parameters are ids only.
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from prefect import flow  # noqa: E402

from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.gateway import check_request_exists, decide_and_record, publish_decision_artifact  # noqa: E402
from tasks.retention import load_retention_policy  # noqa: E402


@flow(name="disclosure-request", persist_result=False, log_prints=False)
def disclosure_request(request_id: str, policy_path: str | None = None, store_url: str | None = None,
                       actor: str = "disclosure-request flow") -> dict:
    """Decide the stored request ``request_id`` and record everything the decision entails."""
    policy = load_retention_policy(policy_path)
    check_request_exists(request_id, store_url)
    decision = decide_and_record(request_id, policy, store_url, actor)
    publish_decision_artifact(request_id, decision)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return decision
