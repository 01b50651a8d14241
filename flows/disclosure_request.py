"""disclosure-request: take a stored request (by id) through the gateway and record the decision.

Desk staff or the Director submit a request with `patronguard request submit`;
this flow decides it under the library's policy (signed authorizations really
verified), moves it to the state its outcome calls for, opens obligations and
places a legal hold when legal process backs it. Parameters are ids and names
only: the acting person is required and recorded, with the flow run's id, in the
audit log; the store comes from the worker's environment or a named Secret block.

Retry-safe: a request already decided on the same input (its stored document under the same policy) gets
its recorded decision back and nothing is written again — no state step, obligation, hold or audit event
(the decision's idempotency key, :func:`patronguard.workflow.service.decision_key`, store migration 6).
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from typing import Annotated  # noqa: E402

from prefect import flow  # noqa: E402
from pydantic import Field  # noqa: E402

from flows.forms import Connections, flow_run_id  # noqa: E402
from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.gateway import check_request_exists, decide_and_record, publish_decision_artifact  # noqa: E402
from tasks.retention import load_retention_policy  # noqa: E402


@flow(name="disclosure-request", persist_result=False, log_prints=False, validate_parameters=True)
def disclosure_request(
    request_id: Annotated[str, Field(min_length=1, max_length=100)],
    actor: Annotated[str, Field(min_length=1, max_length=200)],
    policy_path: str = "",
    databases: Connections = Connections(),
) -> dict:
    """Decide the stored request ``request_id`` and record everything the decision entails.

    Args:
        request_id: The id `patronguard request submit` printed for the request.
        actor: Your name (the person deciding this request). Recorded in the audit log with this flow run's id.
        policy_path: The policy file on the worker; empty: PATRONGUARD_POLICY or the default policy.
        databases: Where the store is: empty uses the worker's PATRONGUARD_STORE_URL; or name a Prefect Secret
            block holding the URL. Never a URL here.
    """
    actor = actor.strip()
    policy = load_retention_policy(policy_path or None)
    store_url = databases.store_url()
    check_request_exists(request_id, store_url)
    decision = decide_and_record(request_id, policy, store_url, actor, flow_run_id())
    publish_decision_artifact(request_id, decision)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return decision
