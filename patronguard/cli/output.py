"""What the command modules print alike: progress for people on stderr, a gateway decision, a refusal as JSON."""
from __future__ import annotations

import json

import click


def say(message: str) -> None:
    """Progress for people, on stderr (stdout stays clean for --json)."""
    click.echo(message, err=True)


def verdict(decision) -> dict | None:
    """The written authorization's verdict, for output: verified or not, and why."""
    from ..authz import authorization_verdict

    text = authorization_verdict(decision)
    if text is None:
        return None
    return {"verified": text.startswith("verified"), "reason": text.split(": ", 1)[-1]}


def show_decision(decision, as_json: bool) -> None:
    shown = verdict(decision)
    if as_json:
        click.echo(json.dumps({**decision.to_dict(), "authorization": shown}, indent=2))
        return
    click.echo(f"{decision.outcome.upper()}: {decision.reason}")
    if shown is not None:
        click.echo(f"  written authorization: {'verified' if shown['verified'] else 'NOT verified'}: "
                   f"{shown['reason']}")
    if decision.fields:
        click.echo(f"  fields: {', '.join(decision.fields)}")
    click.echo(f"  clauses: {'; '.join(decision.clauses) or '-'}")
    for o in decision.obligations:
        due = f" (within {o.due_days} days)" if o.due_days is not None else ""
        click.echo(f"  obligation: {o.text}{due}")
    click.echo(f"  policy: {decision.policy_library} {decision.policy_version} (sha256 {decision.policy_sha256[:12]})")


def refused_json(exc) -> None:
    """With --json a refusal is also a JSON object on stdout (the one-line error still goes to stderr)."""
    decision = getattr(exc, "decision", None)
    click.echo(json.dumps({"refused": True, "reason": getattr(exc, "reason", str(exc)), "error": str(exc),
                           "decision": decision.to_dict() if decision is not None else None,
                           "authorization": verdict(decision) if decision is not None else None}, indent=2))
