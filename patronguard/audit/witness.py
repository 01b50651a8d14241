"""External witnesses of the audit log: somewhere else to publish its tree head, so a rollback shows.

The checkpoints (``var/audit``) and the pin (``var/keys/audit``) live on the
machine that runs patronguard; whoever can write there *and* to the store
can roll all three back together and hide a truncation. A **witness** keeps
the tree heads somewhere that attacker cannot rewrite — the Prefect API's
artifact history (:mod:`patronguard.audit.prefect_witness`) is the one
patronguard uses — and ``patronguard audit verify`` checks the log against
every witness it can reach (:mod:`patronguard.audit.witness_check`).

The contract is small:

* ``publish(head)`` records one :class:`TreeHead`; it returns a reference
  (the artifact id) and never rewrites an earlier head;
* ``heads()`` returns every head it holds as :class:`PublishedHead`
  (size, root hash, log id, when), raising :class:`WitnessUnavailableError`
  if it cannot be reached.

A published head carries no patron value: the log's id, its size, its
RFC 6962 root, the hash of its last entry, when it was checkpointed, which
store (a hash of the store's location, as for the pin) and which pin (its
creation time) it was published under, and a MAC under the audit key — so a
head nobody at this library published can be told from a genuine one.
"""
from __future__ import annotations

from .chain import audit_mac_key
from .heads import NotConfigured, TreeHead, Witness
from .log import checkpoint
from .pin import load_pin, store_key


def discover_witnesses() -> list[Witness | NotConfigured]:
    """Every witness kind patronguard knows, configured or not (only the Prefect artifact history today)."""
    from .prefect_witness import prefect_witness

    return [prefect_witness()]


def current_tree_head(store) -> TreeHead | None:
    """Anchor the log's head outside the store (a checkpoint), then return it as a publishable head.

    None while the log is empty. Raises AuditLogTamperedError if the log does not verify against its
    pin and checkpoints: a tampered log's head is never published.
    """
    checkpoint(store)
    key = audit_mac_key()
    pin = load_pin(store.engine.url, key)
    if pin is None or pin.latest_size == 0:
        return None
    latest = pin.latest
    head = TreeHead(log_id=pin.log_id, tree_size=int(latest["tree_size"]), root_hash=str(latest["root_hash"]),
                    head_hash=str(latest["head_hash"]), at=str(latest["at"]), store=store_key(store.engine.url),
                    pin=pin.created)
    return TreeHead(**(head.__dict__ | {"mac": head.expected_mac(key)}))


def publish_tree_head(store, witnesses: list[Witness]) -> tuple[TreeHead | None, list[str]]:
    """Publish the log's current head to ``witnesses``; return it and one line per witness."""
    head = current_tree_head(store)
    if head is None:
        return None, [f"{w.name}: nothing published (the audit log is empty)" for w in witnesses]
    lines = []
    for witness in witnesses:
        ref = witness.publish(head)
        lines.append(f"{witness.name}: published {head.describe()} of audit log {head.log_id} ({ref})")
    return head, lines


def publish_to_prefect(store) -> TreeHead | None:
    """Anchor and publish the store's audit tree head to the Prefect artifact history; call it from a flow.

    Used by the ``publish-audit-tree-head`` task (``tasks.audit.publish_audit_tree_head``) at the end of
    every flow that writes to the audit log. Inside a flow run the artifact goes to that run's API (the
    configured one, or the flow's own ephemeral one). Returns the head published (None if the log is empty).
    """
    from .prefect_witness import PrefectWitness, prefect_api_url

    url = prefect_api_url() or "the flow run's Prefect API"
    witness = PrefectWitness(url)
    head, _ = publish_tree_head(store, [witness])
    return head
