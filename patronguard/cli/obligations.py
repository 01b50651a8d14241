"""``patronguard obligations``: what decisions opened (consult counsel, bill the requester …) — list, close."""
from __future__ import annotations

import click

from .options import actor_option, store_option


@click.group("obligations")
def obligations() -> None:
    """Obligations opened by decisions (consult counsel, bill the requester …)."""


@obligations.command("list")
@store_option("store_url")
def obligations_list(store_url) -> None:
    """List open obligations, oldest first, with their due dates.

    \b
    Example:
      patronguard obligations list
    """
    from ..store import opened_store
    from ..workflow.requests import open_obligations

    with opened_store(store_url) as store:
        for o in open_obligations(store):
            due = f"due {o['due_at']:%Y-%m-%d}" if o["due_at"] else "no due date"
            click.echo(f"{o['obligation_id']:>5}  {o['code']:<24} {due:<16} request {o['request_id'] or '-'}: {o['text']}")


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
