"""``patronguard retention``: report what is held past retention, apply the schedule, verify the outcome."""
from __future__ import annotations

import click

from ..retention.context import DEFAULT_BATCH_SIZE
from .options import as_of_option, check_report_outputs, force_option, ils_option, policy_option, store_option
from .output import say


@click.group("retention")
def retention() -> None:
    """The retention schedule applied to the ILS."""


@retention.command("report")
@ils_option()
@policy_option()
@store_option()
@as_of_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", "out_dir", metavar="DIR", default=None, help="Also write exposure-<date>.json/.md here.")
@force_option("the report files of that date already in --out")
def retention_report(db, policy, store, as_of, as_json, out_dir, force) -> None:
    """Report patron data held past retention, per table and per §1 category.

    Validates the ILS with the ils_source expectation suite first. Read-only
    on the ILS; the run is recorded in the store (counts only).

    \b
    Example:
      patronguard retention report --policy policy/westport.yaml --as-of 2026-06-30
    """
    from ..retention import exposure_report, render_json, render_text, write_report_files

    if out_dir:  # refused before the ILS is read or the store written
        as_of = check_report_outputs(out_dir, policy, as_of, force=force)
    report = exposure_report(db, policy, store_url=store, as_of=as_of, progress=None if as_json else say)
    if out_dir:
        for path in write_report_files(report, out_dir):
            say(f"wrote {path}")
    click.echo(render_json(report) if as_json else render_text(report))


@retention.command("run")
@ils_option()
@policy_option()
@store_option()
@as_of_option()
@click.option("--dry-run", is_flag=True, help="Measure and show what would be done; change nothing in the ILS.")
@click.option("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, show_default=True, help="Rows per batch (expired patrons: at most 2,000 per batch).")
@click.option("--lock-wait", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="SECONDS",
              help="How long to wait for another run on this ILS or store to finish (then exit 3).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def retention_run(db, policy, store, as_of, dry_run, batch_size, lock_wait, as_json) -> None:
    """Apply the retention schedule: aggregate then strip, delete, remove expired patrons.

    Batch by batch, each batch exactly once even if the run is killed (rerun
    it: the ledger in the store finishes or redoes what was cut off). Ends
    with `retention verify` and the ils_after expectation suite. One run at a
    time per ILS and store: a second waits --lock-wait seconds, then exits 3
    naming the run that holds the lock.

    Progress goes to stderr: on a terminal a progress bar per table and for all tables (totals from the
    exposure measured before acting, time remaining) and one line per table when it is done; otherwise
    (piped, or with --json) plain concise lines.

    \b
    Example:
      patronguard retention run --policy policy/westchester.yaml --dry-run
    """
    import json

    from ..retention.render_run import render_run_text
    from ..retention.run import run_retention

    from .progress import RunProgress

    with RunProgress(plain=True if as_json else None) as shown:
        run = run_retention(db, policy, store_url=store, as_of=as_of, dry_run=dry_run, batch_size=batch_size,
                            progress=shown, lock_wait=lock_wait, measured=shown.measured)
    click.echo(json.dumps(run.summary(), indent=2) if as_json else render_run_text(run))


@retention.command("verify")
@ils_option()
@policy_option()
@store_option()
@as_of_option()
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
def retention_verify(db, policy, store, as_of, as_json) -> None:
    """Check nothing past retention still identifies a patron and the warehouse equals the ledger.

    Exits 1 and names the table on any discrepancy. Read-only.

    \b
    Example:
      patronguard retention verify
    """
    import json

    from ..retention.run import verify_only
    from ..retention.verify import require_verified

    result = verify_only(db, policy, store_url=store, as_of=as_of)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(f"as of {result.as_of.isoformat()}: {'verified' if result.ok else 'DISCREPANCIES'}")
        for source, events in sorted(result.warehouse_events.items()):
            click.echo(f"  warehouse {source}: {events:,} rows; ledger: {result.ledger_aggregated.get(source, 0):,}")
        for d in result.discrepancies:
            click.echo(f"  {d.table}: {d.problem}")
    require_verified(result)
