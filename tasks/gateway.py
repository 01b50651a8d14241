"""Tasks that put patron data requests through the policy gateway."""
from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact

from patronguard.policy import LoadedPolicy
from patronguard.store import opened_store
from patronguard.authz import AuthorizationRefusedError
from patronguard.workflow.purge_request import PurgeRefusedError, authorized_purge, recorded_purge
from patronguard.workflow.requests import get_request
from patronguard.workflow.service import decide_stored

from .policy import DATABASE_IO, PATRON_DATA


@task(name="check-request-exists", **PATRON_DATA, **DATABASE_IO)
def check_request_exists(request_id: str, store_url: str | None) -> str:
    """The request's current state (flows take request ids, never names or documents)."""
    with opened_store(store_url) as store:
        return get_request(store, request_id).state


@task(name="decide-request", **PATRON_DATA, **DATABASE_IO)
def decide_and_record(request_id: str, policy: LoadedPolicy, store_url: str | None, actor: str,
                      flow_run_id: str | None = None) -> dict:
    """Ask the gateway (signatures verified), record state, obligations, hold and audit (with who acted and the
    Prefect flow run); return the decision without its explanation (counts, outcome, clauses: nothing about the
    patron)."""
    with opened_store(store_url) as store:
        decision = decide_stored(store, request_id, policy, actor=actor, flow_run_id=flow_run_id)
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
def purge_with_authorization(scope: str, authorization: dict | None, policy: LoadedPolicy,
                             ils_url: str | None, store_url: str | None, confirm: bool, actor: str,
                             flow_run_id: str | None) -> dict:
    """Gateway first (the signed authorization is verified), then the purge through the retention ledger.

    A refusal (recorded in the audit log by the gateway) comes back as ``{"refused": reason}``: the flow
    publishes it and ends Failed with one line, no traceback.

    Retry-safe: when this authorization already did this very purge (a retried run), the recorded result comes
    back (``"retried": True``) and nothing is written."""
    done = recorded_purge(ils_url, store_url, policy, scope, authorization, confirm=confirm)
    if done is not None:
        return done
    try:
        result, decision = authorized_purge(ils_url, policy, scope, authorization, store_url=store_url,
                                            confirm=confirm, actor=actor, flow_run_id=flow_run_id)
    except (PurgeRefusedError, AuthorizationRefusedError) as exc:
        return {"refused": str(exc), "reason": getattr(exc, "reason", str(exc)), "scope": scope,
                "confirm": confirm, "presented": authorization is not None}
    return {"outcome": decision.outcome, "dry_run": result["dry_run"], "plan": result["plan"],
            "done": result["done"], "batches": result["batches"], "clauses": decision.clauses}


@task(name="publish-purge-artifact", **PATRON_DATA)
def publish_purge_artifact(summary: dict) -> str:
    verb = "would act on" if summary["dry_run"] else "acted on"
    lines = [f"# Director's purge ({'dry run' if summary['dry_run'] else 'done'})", "",
             f"Gateway: {summary['outcome']} ({'; '.join(summary['clauses'])})", "", f"{verb}:", ""]
    lines += [f"- {table}: {n:,} rows" for table, n in summary["plan"].items()] or ["- nothing"]
    if summary.get("retried") and not summary["dry_run"]:
        lines = [f"# Director's purge (already done: {summary['batches']:,} batches)", "",
                 f"Gateway: {summary['outcome']} ({'; '.join(summary['clauses'])})", "",
                 "This authorization already did this purge in an earlier run; this run (a retry) changed nothing.",
                 "The purge's counts are in its audit event."]
    create_markdown_artifact(key="director-purge", markdown="\n".join(lines) + "\n",
                             description="The Director's ad-hoc purge")
    return "director-purge"


def refusal_markdown(refusal: dict) -> str:
    """Why the purge was refused and how to obtain the authorization it needs (no patron value: a patron scope
    is named as such, never by borrowernumber)."""
    scope = refusal["scope"]
    shown = "one patron's reading history" if scope.startswith("patron:") else scope
    confirm = " --confirm" if refusal["confirm"] else ""
    mode = "execute" if refusal["confirm"] else "dry run"
    return "\n".join([
        "# Director's purge refused", "",
        f"**Why:** {refusal['reason']}", "",
        "Nothing was read for purging and nothing was changed. The refusal is recorded in the audit log.", "",
        "## How to obtain the authorization", "",
        f"The purge of {shown} ({mode}) needs a written authorization of the Director (or a designee the Director "
        "appointed), signed for this store, this scope, today's cutoff and this mode, and used once:", "",
        f"1. Print the request, on the day of the purge: `patronguard purge --scope {scope}{confirm} "
        "--print-request > purge.json`",
        "2. The Director signs it with their key: `patronguard keys sign purge.json --scope purge --out auth.json`",
        "3. Run this deployment again with the same scope and *Confirm* setting, and paste the whole content of "
        "`auth.json` into the *authorization* field.", "",
        "An authorization is bound to the day it was printed for (the cutoff), to the scope and to the mode; "
        "each one is used once.", ""])


@task(name="publish-purge-refusal", **PATRON_DATA)
def publish_purge_refusal(refusal: dict) -> str:
    create_markdown_artifact(key="director-purge", markdown=refusal_markdown(refusal),
                             description="The Director's purge was refused: why, and how to obtain the authorization")
    return "director-purge"
