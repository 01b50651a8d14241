"""``patronguard demo``: see patronguard work in one command."""
from __future__ import annotations

import click

from .output import say


@click.command("demo")
@click.option("--dir", "var_dir", metavar="DIR", default=None, help="Where every file of the demo goes: ILS, store, reports, keys, audit checkpoints, Prefect's home "
              "(default: PATRONGUARD_VAR, else var/ under PATRONGUARD_HOME or the per-user data directory).")
@click.option("--policy", "policy", metavar="FILE", default=None, help="Policy file (env PATRONGUARD_POLICY; default: the packaged westchester.yaml).")
@click.option("--patrons", type=int, default=2000, show_default=True, help="Patrons in a new demo ILS.")
@click.option("--loans", type=int, default=50000, show_default=True, help="Loans in a new demo ILS.")
def demo(var_dir, policy, patrons, loans) -> None:
    """See patronguard work in one command: demo ILS + nightly flow on an ephemeral Prefect API.

    Creates ils.db in --dir (default: var/ under the home, see PATRONGUARD_HOME)
    if missing (a synthetic library), runs the nightly-retention flow and prints
    the privacy-exposure report. Nothing is written outside --dir.

    \b
    Example:
      patronguard demo
    """
    from ..demo import run_demo

    run_demo(var_dir=var_dir, policy=policy, patrons=patrons, loans=loans, say=say, show=click.echo)
