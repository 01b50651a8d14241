"""Tasks for the audit log's external witness: publish its tree head at the end of a flow run."""
from __future__ import annotations

from prefect import task

from patronguard.audit.witness import publish_to_prefect
from patronguard.store import opened_store

from .policy import DATABASE_IO, PATRON_DATA


@task(name="publish-audit-tree-head", **PATRON_DATA, **DATABASE_IO)
def publish_audit_tree_head(store_url: str | None) -> dict | None:
    """Checkpoint the store's audit log and publish its tree head as the ``audit-tree-head`` artifact.

    Call it last in every flow that writes to the audit log (after the run's event is recorded): the
    Prefect artifact history is the external witness ``patronguard audit verify`` checks the log against.
    Publishes log id, tree size, root hash, head entry hash and times — no patron value. Returns the
    published head's record (None if the log is still empty).
    """
    with opened_store(store_url) as store:
        head = publish_to_prefect(store)
    return None if head is None else head.record()
