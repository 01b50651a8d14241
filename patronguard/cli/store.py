"""``patronguard store``: the pipeline's own database."""
from __future__ import annotations

import click

from .options import store_option


@click.group("store")
def store() -> None:
    """The pipeline's own database."""


@store.command("migrate")
@store_option()
def store_migrate(store) -> None:
    """Create or upgrade the store to the latest schema version.

    \b
    Example:
      patronguard store migrate
      patronguard store migrate --store postgresql+psycopg://patronguard@127.0.0.1/patronguard
    """
    from ..store import current_version, open_store

    opened = open_store(store)
    click.echo(f"{opened.url}: at schema version {current_version(opened.engine)}")
