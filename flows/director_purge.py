"""director-purge: the Director's ad-hoc purge of a scope, only with a signed written authorization.

Dry run unless ``confirm``; the gateway verifies the authorization (Ed25519
against the Director's key pinned in the store, bound to this store, scope,
today's cutoff and mode, unexpired, in scope, never used before) before
anything is read for purging; its use is recorded once, before the first ILS
write; the purge itself goes through the retention engine and its ledger.

The run form (typed parameters, :mod:`flows.forms`): the scope is a choice with
no default, the authorization is the signed JSON document pasted in, the acting
person is required and recorded with the flow run's id in the audit log. The
databases come from the worker's environment or named Secret blocks, never from
a parameter. A refusal ends the run Failed with one line and a
``director-purge`` artifact saying why and how to obtain the authorization.
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from typing import Annotated, Any  # noqa: E402

from prefect import flow  # noqa: E402
from prefect.states import Failed  # noqa: E402
from pydantic import Field  # noqa: E402

from flows.forms import (  # noqa: E402
    Connections, PurgeScopeChoice, flow_run_id, quiet_refusal_tracebacks, signed_document,
)
from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.gateway import publish_purge_artifact, publish_purge_refusal, purge_with_authorization  # noqa: E402
from tasks.retention import load_retention_policy  # noqa: E402

quiet_refusal_tracebacks()


@flow(name="director-purge", persist_result=False, log_prints=False, validate_parameters=True)
def director_purge(
    scope: PurgeScopeChoice,
    actor: Annotated[str, Field(min_length=1, max_length=200)],
    authorization: dict[str, Any] = {},  # noqa: B006 - never mutated; {} renders as a JSON editor
    confirm: bool = False,
    policy_path: str = "",
    databases: Connections = Connections(),
) -> Any:
    """The Director's purge of a scope, with the Director's signed written authorization.

    Args:
        scope: What to purge: everything older than a number of days, or one patron's reading history (at
            the patron's request). No default: choose one.
        actor: Your name (the person running this purge). Recorded in the audit log with this flow run's id.
        authorization: The signed authorization: paste the whole JSON document `patronguard keys sign` wrote
            (auth.json). Empty: the gateway refuses, and the run's artifact says how to obtain one.
        confirm: Off: a dry run, showing what the purge would remove (nothing changes). On: purge for real;
            needs an authorization signed for mode execute (printed with --confirm).
        policy_path: The policy file on the worker; empty: PATRONGUARD_POLICY or the default policy.
        databases: Where the databases are: empty uses the worker's PATRONGUARD_ILS_URL and
            PATRONGUARD_STORE_URL; or name Prefect Secret blocks holding the URLs. Never a URL here.
    """
    actor = actor.strip()
    scope_text = scope.text()
    policy = load_retention_policy(policy_path or None)
    ils_url, store_url = databases.ils_url(), databases.store_url()
    summary = purge_with_authorization(scope_text, signed_document(authorization), policy, ils_url, store_url,
                                       confirm, actor, flow_run_id())
    if "refused" in summary:
        publish_purge_refusal(summary)
        publish_audit_tree_head(store_url)  # the refusal is in the audit log too
        return Failed(message=summary["refused"])
    publish_purge_artifact(summary)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return summary
