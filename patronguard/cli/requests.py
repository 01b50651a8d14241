"""``patronguard request``: access requests to patron data — a preview decision (``decide``), and the workflow
that records them: submit, process, step, evidence, list, show."""
from __future__ import annotations

import json

import click

from .. import settings
from .options import actor_option, as_of_option, ils_option, policy_option, store_option
from .output import dumps, show_decision, show_table


@click.group("request")
def request() -> None:
    """Access requests to patron data, decided under the library's policy.

    \b
    Example:
      patronguard request decide examples/requests/westchester-s4-telephone.json --policy policy/westchester.yaml
    """


@request.command("decide")
@click.argument("request_file", metavar="REQUEST.json")
@policy_option()
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON (with the full explanation).")
@ils_option()
@store_option("store_url")
@click.option("--consent-type", metavar="TYPE", default=None,
              help="For a request about several patrons resting on each one's recorded consent "
                   "(evidence.consent: per_patron): the patron_consent type that records it, e.g. DATA_SHARING.")
@as_of_option()
def decide_command(request_file: str, policy: str | None, as_json: bool, db: str | None, store_url: str | None,
                   consent_type: str | None, as_of: str | None) -> None:
    """Decide one access request: allow, allow_limited, deny, refer or pending.

    Prints the one-sentence reason to read aloud, the outcome, the fields that
    may be given, the clauses applied, the obligations, and why each rule
    applied. Exit code 0 for every decision (deny is an answer); 2 for a bad
    request or policy file. A written authorization in the request
    (evidence.written_authorization, from `patronguard keys sign`) is verified
    against the Director's public key (PATRONGUARD_DIRECTOR_PUBLIC_KEY, or
    KEYS/director/director.pub under the configured key directory). Nothing is
    recorded — not even the authorization's use, so this is a preview: use
    `request submit` and `request process` to decide for the record.
    See docs/requests.md for the request format.

    A request about several patrons (subjects: ids or a scope) is decided for
    the set: its scope resolved against the ILS (--db), each patron's legal
    hold read from the store (--store) and, with --consent-type, the consent
    on record; the answer says for which patrons it differs (read-only).

    \b
    Example:
      patronguard request decide examples/requests/westport-s4-no-subpoena.json --policy policy/westport.yaml --json
      patronguard request decide examples/requests/bulk/westchester-s5-collection-agency-overdue.json --policy policy/westchester.yaml
    """
    import datetime as dt

    from ..gateway import load_request, render_bulk_json, render_bulk_text, render_json, render_text
    from ..policy import load_policy
    from ..workflow.service import decide_request

    loaded = load_policy(settings.policy_path(policy))
    req = load_request(request_file)
    if req.is_bulk:
        from ..workflow.bulk import decide_bulk_request

        bulk = decide_bulk_request(req, loaded, ils_url=db, store_url=store_url, consent_type=consent_type,
                                   as_of=dt.date.fromisoformat(as_of) if as_of else None)
        click.echo(render_bulk_json(bulk) if as_json else render_bulk_text(bulk))
        return
    if consent_type:
        from ..errors import InputError
        raise InputError("--consent-type: only for a request about several patrons (subjects)")
    decision = decide_request(req, loaded)
    click.echo(render_json(decision) if as_json else render_text(decision))


@request.command("submit")
@click.argument("file", metavar="REQUEST.json")
@store_option("store_url")
@actor_option()
def request_submit(file, store_url, actor) -> None:
    """Record a request in the store (state: received) and print its id.

    \b
    Example:
      patronguard request submit examples/requests/westport-s4-court-order.json --by desk-3
    """
    from ..gateway import load_request
    from ..store import opened_store
    from ..workflow.service import submit

    request = load_request(file)
    with opened_store(store_url) as store:
        click.echo(submit(store, request, actor=actor))


@request.command("process")
@click.argument("request_id", metavar="ID")
@policy_option()
@store_option("store_url")
@actor_option()
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def request_process(request_id, policy, store_url, actor, as_json) -> None:
    """Decide a stored request and record the outcome, its obligations and any legal hold.

    \b
    Example:
      patronguard request process 3f2c… --policy policy/westport.yaml --by director
    """
    from ..policy import load_policy
    from ..store import opened_store
    from ..workflow.service import decide_stored

    loaded = load_policy(settings.policy_path(policy))
    with opened_store(store_url) as store:
        show_decision(decide_stored(store, request_id, loaded, actor=actor), as_json)


@request.command("step")
@click.argument("request_id", metavar="ID")
@click.argument("state", type=click.Choice(["referred", "counsel_review", "decided", "closed"]))
@store_option("store_url")
@actor_option()
@click.option("--note", default=None, help="A note for the record (no patron values).")
def request_step(request_id, state, store_url, actor, note) -> None:
    """Move a request along: referred → counsel_review → decided → closed.

    \b
    Example:
      patronguard request step 3f2c… referred --by desk-3 --note "referred to the Director at once"
    """
    from ..store import opened_store
    from ..workflow.requests import move

    with opened_store(store_url) as store:
        move(store, request_id, state, actor=actor, note=note)
        click.echo(f"{request_id}: {state}")


@request.command("evidence")
@click.argument("request_id", metavar="ID")
@store_option("store_url")
@actor_option()
@click.option("--counsel", type=click.Choice(["requested", "advised_release", "advised_refusal"]), default=None,
              help="Record counsel's review.")
@click.option("--authorization", "authorization", metavar="FILE", default=None,
              help="Attach a signed written authorization (from `patronguard keys sign`).")
@click.option("--handled-by", "handled_by", type=click.Choice(["desk_staff", "supervisor", "director", "designee",
                                                                "board"]), default=None,
              help="Who handles the request now (the Director taking over what the desk referred).")
@click.option("--legal-process", "legal_process",
              type=click.Choice(["none", "subpoena", "court_order", "other_legal_process"]), default=None,
              help="The legal process produced, once established.")
def request_evidence(request_id, store_url, actor, counsel, authorization, handled_by, legal_process) -> None:
    """Add evidence to a stored request: who handles it now, the legal process, counsel's review, a signed
    written authorization (sign the request as updated: `request show ID --json`).

    \b
    Example:
      patronguard request evidence 3f2c… --handled-by director --by director
      patronguard request evidence 3f2c… --counsel advised_release --authorization auth.json --by director
    """
    from ..store import opened_store
    from ..workflow.service import add_evidence

    with opened_store(store_url) as store:
        add_evidence(store, request_id, actor=actor, counsel=counsel, authorization_path=authorization,
                     handled_by=handled_by, legal_process=legal_process)
        click.echo(f"{request_id}: evidence recorded")


@request.command("list")
@store_option("store_url")
@click.option("--state", default=None, help="Only requests in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print the requests as a JSON list.")
def request_list(store_url, state, as_json) -> None:
    """List stored requests (id, state, action, requester role, channel, outcome).

    \b
    Example:
      patronguard request list --state counsel_review
    """
    from ..store import opened_store
    from ..workflow.requests import list_requests

    with opened_store(store_url) as store:
        found = list_requests(store, state)
    if as_json:
        click.echo(dumps([{"request_id": r.request_id, "state": r.state, "action": r.action,
                           "requester_role": r.requester_role, "channel": r.channel, "outcome": r.outcome,
                           "received_at": r.received_at, "request_sha256": r.request_sha256} for r in found]))
        return
    show_table("Access requests", ["id", "state", "action", "requester", "channel", "outcome", "received"],
               [[r.request_id, r.state, r.action, r.requester_role, r.channel, r.outcome,
                 f"{r.received_at:%Y-%m-%d %H:%M}"] for r in found],
               empty=f"no requests{f' in state {state}' if state else ''}")


@request.command("show")
@click.argument("request_id", metavar="ID")
@store_option("store_url")
@click.option("--document", is_flag=True, help="Print only the request document (to sign it).")
def request_show(request_id, store_url, document) -> None:
    """Show a stored request: its document, state and history.

    \b
    Example:
      patronguard request show 3f2c… --document > request.json && patronguard keys sign request.json --scope law_enforcement_request --out request-auth.json
    """
    from ..store import opened_store
    from ..workflow.requests import get_request, history

    with opened_store(store_url) as store:
        record = get_request(store, request_id)
        if document:
            click.echo(json.dumps(record.document, indent=2))
            return
        click.echo(f"{record.request_id}: {record.state} ({record.outcome or 'undecided'}); {record.action} by "
                   f"{record.requester_role} via {record.channel}; request sha256 {record.request_sha256[:12]}")
        for step in history(store, request_id):
            click.echo(f"  {step['at']:%Y-%m-%d %H:%M} {step['state']:<14} by {step['actor']}: {step['note'] or ''}")
