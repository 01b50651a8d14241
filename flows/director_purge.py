"""director-purge: the Director's ad-hoc purge of a scope, only with a signed written authorization.

Dry run unless ``confirm``; the gateway verifies the authorization (Ed25519
against the Director's key pinned in the store, bound to this store, scope,
today's cutoff and mode, unexpired, in scope, never used before) before
anything is read for purging; its use is recorded once, before the first ILS
write; the purge itself goes through the retention engine and its ledger.
"""
from __future__ import annotations

from patronguard.settings import quiet_third_parties

quiet_third_parties()

from prefect import flow  # noqa: E402

from tasks.audit import publish_audit_tree_head  # noqa: E402
from tasks.gateway import publish_purge_artifact, purge_with_authorization  # noqa: E402
from tasks.retention import load_retention_policy  # noqa: E402


@flow(name="director-purge", persist_result=False, log_prints=False)
def director_purge(scope: str, authorization_path: str | None = None, confirm: bool = False,
                   policy_path: str | None = None, ils_url: str | None = None, store_url: str | None = None) -> dict:
    """Purge ``scope`` (older-than:DAYS or patron:BORROWERNUMBER) with the Director's authorization."""
    policy = load_retention_policy(policy_path)
    summary = purge_with_authorization(scope, authorization_path, policy, ils_url, store_url, confirm)
    publish_purge_artifact(summary)
    publish_audit_tree_head(store_url)  # the audit log's external witness
    return summary
