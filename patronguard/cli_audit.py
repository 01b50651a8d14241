"""``patronguard audit``: verify the tamper-evident audit log; write the Board's report."""
from __future__ import annotations

import click

from . import settings

STORE_OPTION = click.option("--store", "store", metavar="URL", default=None,
                            help=f"Store URL (env PATRONGUARD_STORE_URL; default {settings.DEFAULT_STORE_URL}).")


@click.group("audit")
def audit() -> None:
    """The store's tamper-evident audit log: verify it, report on it to the Board."""


@audit.command("verify")
@STORE_OPTION
@click.option("--checkpoints", metavar="FILE", default=None,
              help="Checkpoint file to check against (default var/audit/<log id>.checkpoints.jsonl), "
                   "e.g. a copy kept off this machine.")
@click.option("--no-checkpoint", is_flag=True, help="Do not record the verified head as a new checkpoint.")
def audit_verify(store, checkpoints, no_checkpoint) -> None:
    """Check every entry (sequence, chain, hash, MAC) against the pin and the checkpoints kept outside the store.

    The pin (var/keys/audit/<store>.pin.json) is read first: the store must
    name the pinned audit log (a UUID), keep its entry_mac column and carry a
    MAC on every entry after the pinned pre-MAC ones; the checkpoint file
    must reach the pinned latest tree head. Exits 1 naming what is wrong if
    any entry was edited, deleted, reordered, forged or truncated, or the
    store's log id, MAC column or checkpoint file was altered. On success
    the verified head is checkpointed (unless --no-checkpoint); on failure
    nothing is written.

    \b
    Example:
      patronguard audit verify --store sqlite:///var/patronguard.db
    """
    from .audit import AuditLogTamperedError, verify_log
    from .store import opened_store

    with opened_store(store) as opened:
        result = verify_log(opened, checkpoints=checkpoints, record=not no_checkpoint)
    for check in result.checks:
        click.echo(f"checked: {check}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not result.ok:
        where = f"first bad entry {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
        raise AuditLogTamperedError(f"audit log NOT intact: {where}{result.problem}")
    click.echo(result.summary())
    if result.recorded_checkpoint:
        click.echo(f"checkpointed tree size {result.entries} in {result.checkpoint_file}", err=True)


@audit.command("report")
@STORE_OPTION
@click.option("--out", metavar="FILE.html", required=True, help="Where to write the report.")
def audit_report(store, out) -> None:
    """Write the Board of Trustees' report: one self-contained HTML file, no patron values.

    Decisions by outcome and clause, law-enforcement requests, emergencies,
    open obligations, legal holds, purges and retention runs, and whether
    the log verifies (with its tree head to keep) — listing the checks
    actually made (pin, MACs, checkpoints), never more.

    \b
    Example:
      patronguard audit report --store sqlite:///var/patronguard.db --out var/board-report.html
    """
    from .audit import render_board_report, verify_log
    from .store import opened_store

    with opened_store(store) as opened:
        verification = verify_log(opened, record=False)
        path = render_board_report(opened, out, verification=verification)
    click.echo(f"wrote {path} ({verification.entries:,} entries; log "
               f"{'verifies' if verification.ok else 'does NOT verify'})")
