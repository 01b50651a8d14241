"""``patronguard purge``: the Director's ad-hoc purge, only on a signed authorization bound to it."""
from __future__ import annotations

import json

import click

from .. import settings
from .options import policy_option, store_option
from .output import refused_json


@click.command("purge")
@click.option("--db", "db", metavar="URL", default=None, help="ILS database URL (env PATRONGUARD_ILS_URL).")
@policy_option()
@store_option("store_url")
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
      patronguard keys sign purge.json --scope purge --out purge-auth.json
      patronguard purge --scope patron:1234 --authorization purge-auth.json --confirm
    """
    from ..authz import AuthorizationRefusedError
    from ..policy import load_policy
    from ..store import opened_store
    from ..workflow.purge_request import PurgeRefusedError, authorized_purge, new_purge_request

    loaded = load_policy(settings.policy_path(policy))
    if print_request:
        with opened_store(store_url) as store:
            click.echo(json.dumps(new_purge_request(store, loaded, scope, execute=confirm), indent=2))
        return
    from .progress import RunProgress

    try:
        with RunProgress(plain=True if as_json else None) as shown:  # per table, not per batch (stderr)
            result, decision = authorized_purge(db, loaded, scope, authorization, store_url=store_url,
                                                confirm=confirm, progress=shown)
    except (PurgeRefusedError, AuthorizationRefusedError) as exc:
        if as_json:
            refused_json(exc)
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
