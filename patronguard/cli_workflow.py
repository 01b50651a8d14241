"""CLI: the request workflow, legal holds, obligations and the Director's purge."""
from __future__ import annotations

import json

import click

from . import settings
from .cli_options import policy_option, store_option

STORE_OPTION = store_option("store_url")
POLICY_OPTION = policy_option()
ACTOR_OPTION = click.option("--by", "actor", metavar="NAME", required=True,
                            help="Who records this step (staff id or role, never a patron).")


def _say(message: str) -> None:
    click.echo(message, err=True)


def _verdict(decision) -> dict | None:
    """The written authorization's verdict, for output: verified or not, and why."""
    from .authz_use import authorization_verdict

    verdict = authorization_verdict(decision)
    if verdict is None:
        return None
    return {"verified": verdict.startswith("verified"), "reason": verdict.split(": ", 1)[-1]}


def _show_decision(decision, as_json: bool) -> None:
    verdict = _verdict(decision)
    if as_json:
        click.echo(json.dumps({**decision.to_dict(), "authorization": verdict}, indent=2))
        return
    click.echo(f"{decision.outcome.upper()}: {decision.reason}")
    if verdict is not None:
        click.echo(f"  written authorization: {'verified' if verdict['verified'] else 'NOT verified'}: "
                   f"{verdict['reason']}")
    if decision.fields:
        click.echo(f"  fields: {', '.join(decision.fields)}")
    click.echo(f"  clauses: {'; '.join(decision.clauses) or '-'}")
    for o in decision.obligations:
        due = f" (within {o.due_days} days)" if o.due_days is not None else ""
        click.echo(f"  obligation: {o.text}{due}")
    click.echo(f"  policy: {decision.policy_library} {decision.policy_version} (sha256 {decision.policy_sha256[:12]})")


# ----------------------------------------------------------------------------- request workflow
@click.command("submit")
@click.argument("file", metavar="REQUEST.json")
@STORE_OPTION
@ACTOR_OPTION
def request_submit(file, store_url, actor) -> None:
    """Record a request in the store (state: received) and print its id.

    \b
    Example:
      patronguard request submit examples/requests/westport_s4_subpoena_pending_counsel.json --by desk-3
    """
    from .gateway import load_request
    from .store import opened_store
    from .workflow.service import submit

    request = load_request(file)
    with opened_store(store_url) as store:
        click.echo(submit(store, request, actor=actor))


@click.command("process")
@click.argument("request_id", metavar="ID")
@POLICY_OPTION
@STORE_OPTION
@ACTOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def request_process(request_id, policy, store_url, actor, as_json) -> None:
    """Decide a stored request and record the outcome, its obligations and any legal hold.

    \b
    Example:
      patronguard request process 3f2c… --policy policy/westport.yaml --by director
    """
    from .policy import load_policy
    from .store import opened_store
    from .workflow.service import decide_stored

    loaded = load_policy(settings.policy_path(policy))
    with opened_store(store_url) as store:
        _show_decision(decide_stored(store, request_id, loaded, actor=actor), as_json)


@click.command("step")
@click.argument("request_id", metavar="ID")
@click.argument("state", type=click.Choice(["referred", "counsel_review", "decided", "closed"]))
@STORE_OPTION
@ACTOR_OPTION
@click.option("--note", default=None, help="A note for the record (no patron values).")
def request_step(request_id, state, store_url, actor, note) -> None:
    """Move a request along: referred → counsel_review → decided → closed.

    \b
    Example:
      patronguard request step 3f2c… referred --by desk-3 --note "referred to the Director at once"
    """
    from .store import opened_store
    from .workflow.requests import move

    with opened_store(store_url) as store:
        move(store, request_id, state, actor=actor, note=note)
        click.echo(f"{request_id}: {state}")


@click.command("evidence")
@click.argument("request_id", metavar="ID")
@STORE_OPTION
@ACTOR_OPTION
@click.option("--counsel", type=click.Choice(["requested", "advised_release", "advised_refusal"]), default=None,
              help="Record counsel's review.")
@click.option("--authorization", "authorization", metavar="FILE", default=None,
              help="Attach a signed written authorization (from `patronguard keys sign`).")
def request_evidence(request_id, store_url, actor, counsel, authorization) -> None:
    """Add evidence to a stored request: counsel's review, a signed written authorization.

    \b
    Example:
      patronguard request evidence 3f2c… --counsel advised_release --authorization auth.json --by director
    """
    from .store import opened_store
    from .workflow.service import add_evidence

    with opened_store(store_url) as store:
        add_evidence(store, request_id, actor=actor, counsel=counsel, authorization_path=authorization)
        click.echo(f"{request_id}: evidence recorded")


@click.command("list")
@STORE_OPTION
@click.option("--state", default=None, help="Only requests in this state.")
def request_list(store_url, state) -> None:
    """List stored requests (id, state, action, requester role, channel, outcome).

    \b
    Example:
      patronguard request list --state counsel_review
    """
    from .store import opened_store
    from .workflow.requests import list_requests

    with opened_store(store_url) as store:
        for r in list_requests(store, state):
            click.echo(f"{r.request_id}  {r.state:<14} {r.action:<24} {r.requester_role:<15} {r.channel:<10} "
                       f"{r.outcome or '-'}")


REQUEST_COMMANDS = (request_submit, request_process, request_step, request_evidence, request_list)


# ----------------------------------------------------------------------------- holds and obligations
@click.group("holds")
def holds() -> None:
    """Legal holds: records the retention run must keep until the Director releases them."""


@holds.command("list")
@STORE_OPTION
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
def holds_list(store_url, include_released) -> None:
    """List legal holds.

    \b
    Example:
      patronguard holds list
    """
    from .store import opened_store
    from .workflow.requests import holds as list_holds

    with opened_store(store_url) as store:
        for h in list_holds(store, include_released=include_released):
            state = f"released {h['released_at']:%Y-%m-%d} by {h['released_by']}" if h["released_at"] else "active"
            click.echo(f"{h['hold_id']:>5}  patron {h['borrowernumber']:<8} {state:<30} {h['reason']}")


def _refused_json(exc) -> None:
    """With --json a refusal is also a JSON object on stdout (the one-line error still goes to stderr)."""
    decision = getattr(exc, "decision", None)
    click.echo(json.dumps({"refused": True, "reason": getattr(exc, "reason", str(exc)), "error": str(exc),
                           "decision": decision.to_dict() if decision is not None else None,
                           "authorization": _verdict(decision) if decision is not None else None}, indent=2))


@holds.command("release")
@click.argument("hold_id", type=int)
@POLICY_OPTION
@STORE_OPTION
@click.option("--authorization", metavar="FILE", default=None,
              help="The Director's (or designee's) signed authorization for this release.")
@click.option("--print-request", is_flag=True, help="Print the release request to sign (bound to this hold, "
                                                     "its legal process and this store; a fresh nonce), and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome (or the refusal and why) as JSON.")
def holds_release(hold_id, policy, store_url, authorization, print_request, as_json) -> None:
    """Release a legal hold: only on a verified written authorization (Director or designee) bound to this hold
    and this store, used once; audited. A refusal says why (exit 1).

    \b
    Example:
      patronguard holds release 4 --print-request > release.json
      patronguard keys sign release.json --scope release_legal_hold --out auth.json
      patronguard holds release 4 --authorization auth.json
    """
    from .authz import AuthorizationRefusedError
    from .policy import load_policy
    from .store import opened_store
    from .workflow.purge_request import PurgeRefusedError, _read_authorization
    from .workflow.service import hold_release_request, release_hold_with_authorization

    with opened_store(store_url) as store:
        if print_request:
            click.echo(json.dumps(hold_release_request(store, hold_id), indent=2))
            return
        loaded = load_policy(settings.policy_path(policy))
        signed = _read_authorization(authorization) if authorization else None
        try:
            decision = release_hold_with_authorization(store, hold_id, loaded, signed)
        except (PurgeRefusedError, AuthorizationRefusedError) as exc:
            if as_json:
                _refused_json(exc)
            raise
        if as_json:
            click.echo(json.dumps({"released": hold_id, "decision": decision.to_dict(),
                                   "authorization": _verdict(decision)}, indent=2))
            return
        click.echo(f"legal hold {hold_id} released: {decision.reason} ({'; '.join(decision.clauses)})")


@click.group("obligations")
def obligations() -> None:
    """Obligations opened by decisions (consult counsel, bill the requester …)."""


@obligations.command("list")
@STORE_OPTION
def obligations_list(store_url) -> None:
    """List open obligations, oldest first, with their due dates.

    \b
    Example:
      patronguard obligations list
    """
    from .store import opened_store
    from .workflow.requests import open_obligations

    with opened_store(store_url) as store:
        for o in open_obligations(store):
            due = f"due {o['due_at']:%Y-%m-%d}" if o["due_at"] else "no due date"
            click.echo(f"{o['obligation_id']:>5}  {o['code']:<24} {due:<16} request {o['request_id'] or '-'}: {o['text']}")


@obligations.command("close")
@click.argument("obligation_id", type=int)
@STORE_OPTION
@ACTOR_OPTION
@click.option("--note", required=True, help="What was done (e.g. 'counsel consulted on 2026-11-24').")
def obligations_close(obligation_id, store_url, actor, note) -> None:
    """Close an obligation, recording who did what.

    \b
    Example:
      patronguard obligations close 7 --by director --note "counsel consulted by phone"
    """
    from .store import opened_store
    from .workflow.requests import close_obligation

    with opened_store(store_url) as store:
        close_obligation(store, obligation_id, by=actor, note=note)
        click.echo(f"obligation {obligation_id} closed")


# ----------------------------------------------------------------------------- purge
@click.command("purge")
@click.option("--db", "db", metavar="URL", default=None, help="ILS database URL (env PATRONGUARD_ILS_URL).")
@POLICY_OPTION
@STORE_OPTION
@click.option("--scope", required=True, metavar="SCOPE", help="older-than:DAYS or patron:BORROWERNUMBER.")
@click.option("--authorization", metavar="FILE", default=None,
              help="The Director's (or designee's) signed authorization for this purge request.")
@click.option("--print-request", is_flag=True,
              help="Print the purge request to sign — bound to this store, the scope, today's cutoff and the mode "
                   "(--confirm: execute, else dry run), with a fresh nonce — and stop.")
@click.option("--confirm", is_flag=True, help="Do it (without: show what would be done).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome (or the refusal and why) as JSON.")
def purge(db, policy, store_url, scope, authorization, print_request, confirm, as_json) -> None:
    """The Director's ad-hoc purge, only with a verified written authorization bound to this store, scope,
    cutoff and mode, used once; dry run unless --confirm. A refusal says why (exit 1).

    \b
    Example:
      patronguard purge --scope patron:1234 --confirm --print-request > purge.json
      patronguard keys sign purge.json --scope purge --out auth.json
      patronguard purge --scope patron:1234 --authorization auth.json --confirm
    """
    from .authz import AuthorizationRefusedError
    from .policy import load_policy
    from .store import opened_store
    from .workflow.purge_request import PurgeRefusedError, authorized_purge, new_purge_request

    loaded = load_policy(settings.policy_path(policy))
    if print_request:
        with opened_store(store_url) as store:
            click.echo(json.dumps(new_purge_request(store, loaded, scope, execute=confirm), indent=2))
        return
    try:
        result, decision = authorized_purge(db, loaded, scope, authorization, store_url=store_url, confirm=confirm,
                                            progress=None if as_json else _say)
    except (PurgeRefusedError, AuthorizationRefusedError) as exc:
        if as_json:
            _refused_json(exc)
        raise
    if as_json:
        click.echo(json.dumps({"decision": decision.to_dict(), "purge": result}, indent=2, default=str))
        return
    click.echo(f"{decision.outcome.upper()}: {decision.reason}")
    verb = "would act on" if result["dry_run"] else "acted on"
    click.echo(f"{verb}: " + (", ".join(f"{t} {n:,}" for t, n in result["plan"].items()) or "nothing"))
    if result["dry_run"]:
        kept = " (the execute authorization is not used up)" if not result["authorization"]["used_up"] else ""
        click.echo(f"Dry run: nothing changed{kept}. Add --confirm to do it.")
    else:
        click.echo(f"done in {result['batches']} batches; recorded in the audit log")


@click.command("show")
@click.argument("request_id", metavar="ID")
@STORE_OPTION
@click.option("--document", is_flag=True, help="Print only the request document (to sign it).")
def request_show(request_id, store_url, document) -> None:
    """Show a stored request: its document, state and history.

    \b
    Example:
      patronguard request show 3f2c… --document > request.json && patronguard keys sign request.json --out auth.json
    """
    from .store import opened_store
    from .workflow.requests import get_request, history

    with opened_store(store_url) as store:
        record = get_request(store, request_id)
        if document:
            click.echo(json.dumps(record.document, indent=2))
            return
        click.echo(f"{record.request_id}: {record.state} ({record.outcome or 'undecided'}); {record.action} by "
                   f"{record.requester_role} via {record.channel}; request sha256 {record.request_sha256[:12]}")
        for step in history(store, request_id):
            click.echo(f"  {step['at']:%Y-%m-%d %H:%M} {step['state']:<14} by {step['actor']}: {step['note'] or ''}")


REQUEST_COMMANDS = (*REQUEST_COMMANDS, request_show)
