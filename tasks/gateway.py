"""Tasks that put patron data requests through the policy gateway."""
from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact

from patronguard.policy import LoadedPolicy
from patronguard.store import opened_store
from patronguard.workflow.purge_request import authorized_purge
from patronguard.workflow.requests import get_request
from patronguard.workflow.service import decide_stored

from .policy import DATABASE_IO, PATRON_DATA


@task(name="check-request-exists", **PATRON_DATA, **DATABASE_IO)
def check_request_exists(request_id: str, store_url: str | None) -> str:
    """The request's current state (flows take request ids, never names or documents)."""
    with opened_store(store_url) as store:
        return get_request(store, request_id).state


@task(name="decide-request", **PATRON_DATA, **DATABASE_IO)
def decide_and_record(request_id: str, policy: LoadedPolicy, store_url: str | None, actor: str) -> dict:
    """Ask the gateway (signatures verified), record state, obligations, hold and audit; return the decision
    without its explanation (counts, outcome, clauses: nothing about the patron)."""
    with opened_store(store_url) as store:
        decision = decide_stored(store, request_id, policy, actor=actor)
    return {"outcome": decision.outcome, "reason": decision.reason, "clauses": decision.clauses,
            "fields": decision.fields, "obligations": [o.to_dict() for o in decision.obligations],
            "policy_version": decision.policy_version, "request_sha256": decision.request_sha256}


@task(name="publish-decision-artifact", **PATRON_DATA)
def publish_decision_artifact(request_id: str, decision: dict) -> str:
    lines = [f"# Request {request_id}: {decision['outcome']}", "", decision["reason"], "",
             f"- clauses: {'; '.join(decision['clauses']) or '-'}",
             f"- fields allowed: {', '.join(decision['fields']) or 'none'}",
             f"- policy version: {decision['policy_version']}"]
    lines += [f"- obligation: {o['text']}" for o in decision["obligations"]]
    create_markdown_artifact(key="disclosure-decision", markdown="\n".join(lines) + "\n",
                             description=f"Gateway decision for request {request_id}")
    return "disclosure-decision"


@task(name="director-purge", **PATRON_DATA, **DATABASE_IO)
def purge_with_authorization(scope: str, authorization_path: str | None, policy: LoadedPolicy,
                             ils_url: str | None, store_url: str | None, confirm: bool) -> dict:
    """Gateway first (the signed authorization is verified), then the purge through the retention ledger."""
    result, decision = authorized_purge(ils_url, policy, scope, authorization_path, store_url=store_url,
                                        confirm=confirm)
    return {"outcome": decision.outcome, "dry_run": result["dry_run"], "plan": result["plan"],
            "done": result["done"], "batches": result["batches"], "clauses": decision.clauses}


@task(name="publish-purge-artifact", **PATRON_DATA)
def publish_purge_artifact(summary: dict) -> str:
    verb = "would act on" if summary["dry_run"] else "acted on"
    lines = [f"# Director's purge ({'dry run' if summary['dry_run'] else 'done'})", "",
             f"Gateway: {summary['outcome']} ({'; '.join(summary['clauses'])})", "", f"{verb}:", ""]
    lines += [f"- {table}: {n:,} rows" for table, n in summary["plan"].items()] or ["- nothing"]
    create_markdown_artifact(key="director-purge", markdown="\n".join(lines) + "\n",
                             description="The Director's ad-hoc purge")
    return "director-purge"
