"""``patronguard holds``: legal holds — list them; release one on the Director's signed authorization."""
from __future__ import annotations

import json

import click

from .. import settings
from .options import policy_option, store_option
from .output import dumps, refused_json, show_table, verdict


@click.group("holds")
def holds() -> None:
    """Legal holds: records the retention run must keep until the Director releases them."""


@holds.command("list")
@store_option("store_url")
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the holds as a JSON list.")
def holds_list(store_url, include_released, as_json) -> None:
    """List legal holds.

    \b
    Example:
      patronguard holds list
    """
    from ..store import opened_store
    from ..workflow.requests import holds as list_holds

    with opened_store(store_url) as store:
        found = list_holds(store, include_released=include_released)
    if as_json:
        click.echo(dumps(found))
        return
    rows = []
    for h in found:
        state = f"released {h['released_at']:%Y-%m-%d} by {h['released_by']}" if h["released_at"] else "active"
        rows.append([h["hold_id"], h["borrowernumber"], state, f"{h['placed_at']:%Y-%m-%d}" if h.get("placed_at") else None,
                     h.get("reference"), h["reason"]])
    show_table("Legal holds", ["id", "patron", "state", "placed", "reference", "reason"], rows,
               empty="no legal holds" if include_released else "no active legal holds")


@holds.command("release")
@click.argument("hold_id", type=int)
@policy_option()
@store_option("store_url")
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
      patronguard keys sign release.json --scope release_legal_hold --out release-auth.json
      patronguard holds release 4 --authorization release-auth.json
    """
    from ..authz import AuthorizationRefusedError
    from ..policy import load_policy
    from ..store import opened_store
    from ..workflow.authorized import PurgeRefusedError, read_authorization
    from ..workflow.service import hold_release_request, release_hold_with_authorization

    with opened_store(store_url) as store:
        if print_request:
            click.echo(json.dumps(hold_release_request(store, hold_id), indent=2))
            return
        loaded = load_policy(settings.policy_path(policy))
        signed = read_authorization(authorization) if authorization else None
        try:
            decision = release_hold_with_authorization(store, hold_id, loaded, signed)
        except (PurgeRefusedError, AuthorizationRefusedError) as exc:
            if as_json:
                refused_json(exc)
            raise
        if as_json:
            click.echo(json.dumps({"released": hold_id, "decision": decision.to_dict(),
                                   "authorization": verdict(decision)}, indent=2))
            return
        click.echo(f"legal hold {hold_id} released: {decision.reason} ({'; '.join(decision.clauses)})")
