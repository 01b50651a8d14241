"""``patronguard obligations``: what decisions opened (consult counsel, bill the requester …) — list, close."""
from __future__ import annotations

import click

from .options import actor_option, store_option
from .output import dumps, show_table


@click.group("obligations")
def obligations() -> None:
    """Obligations opened by decisions (consult counsel, bill the requester …)."""


@obligations.command("list")
@store_option("store_url")
@click.option("--json", "as_json", is_flag=True, help="Print the open obligations as a JSON list.")
def obligations_list(store_url, as_json) -> None:
    """List open obligations, oldest first, with their due dates.

    \b
    Example:
      patronguard obligations list
    """
    from ..store import opened_store
    from ..workflow.requests import open_obligations

    with opened_store(store_url) as store:
        found = open_obligations(store)
    if as_json:
        click.echo(dumps(found))
        return
    show_table("Open obligations", ["id", "code", "due", "request", "what"],
               [[o["obligation_id"], o["code"], f"{o['due_at']:%Y-%m-%d}" if o["due_at"] else "no due date",
                 o["request_id"], o["text"]] for o in found],
               empty="no open obligations")


@obligations.command("close")
@click.argument("obligation_id", type=int)
@store_option("store_url")
@actor_option()
@click.option("--note", required=True, help="What was done (e.g. 'counsel consulted on 2026-11-24').")
def obligations_close(obligation_id, store_url, actor, note) -> None:
    """Close an obligation, recording who did what.

    \b
    Example:
      patronguard obligations close 7 --by director --note "counsel consulted by phone"
    """
    from ..store import opened_store
    from ..workflow.requests import close_obligation

    with opened_store(store_url) as store:
        close_obligation(store, obligation_id, by=actor, note=note)
        click.echo(f"obligation {obligation_id} closed")
