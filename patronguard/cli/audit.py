"""``patronguard audit``: verify the tamper-evident audit log; write the Board's report."""
from __future__ import annotations

import json

import click

from .options import store_option


@click.group("audit")
def audit() -> None:
    """The store's tamper-evident audit log: verify it, report on it to the Board."""


@audit.command("verify")
@store_option()
@click.option("--checkpoints", metavar="FILE", default=None,
              help="Checkpoint file to check against (default var/audit/<log id>.checkpoints.jsonl), "
                   "e.g. a copy kept off this machine.")
@click.option("--no-checkpoint", is_flag=True, help="Do not record the verified head as a new checkpoint.")
@click.option("--require-witness", is_flag=True,
              help="Fail (exit 1, nothing written) unless at least one external witness could be read.")
@click.option("--json", "as_json", is_flag=True, help="Print the verification (checks, witnesses) as JSON.")
def audit_verify(store, checkpoints, no_checkpoint, require_witness, as_json) -> None:
    """Check every entry (sequence, chain, hash, MAC) against the pin, the checkpoints and the witnesses.

    The pin (var/keys/audit/<store>.pin.json) is read first: the store must
    name the pinned audit log (a UUID), keep its entry_mac column and carry a
    MAC on every entry after the pinned pre-MAC ones; the checkpoint file
    must reach the pinned latest tree head. Then the log is checked against
    every external witness it can reach — the Prefect artifact history
    'audit-tree-head', when a Prefect API is configured (PREFECT_API_URL);
    no ephemeral server is started — and each witness checked is listed with
    its result: every published tree head must match the log's first N
    entries, so a truncation hidden by rolling back the checkpoint files and
    the pin is still found. Exits 1 naming what is wrong if any entry was
    edited, deleted, reordered, forged or truncated, or the store's log id,
    MAC column, checkpoint file or pin was altered. On success the verified
    head is checkpointed (unless --no-checkpoint); on failure nothing is
    written.

    \b
    Example:
      patronguard audit verify
      PREFECT_API_URL=http://127.0.0.1:4200/api patronguard audit verify --require-witness --json
    """
    from ..audit import AuditLogTamperedError, verify_log
    from ..audit.witness_check import WitnessCheck
    from ..store import opened_store

    witnesses = WitnessCheck(require=require_witness).fetch()
    with opened_store(store) as opened:
        result = verify_log(opened, checkpoints=checkpoints, record=not no_checkpoint, witness_check=witnesses)
    if as_json:
        click.echo(json.dumps(_verification_dict(result, witnesses), indent=2))
    else:
        for check in result.checks:
            click.echo(f"checked: {check}", err=True)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        for report in witnesses.reports:
            if report.status == "not compared":
                click.echo(f"note: {report.line()}", err=True)
    if not result.ok:
        where = f"first bad entry {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
        raise AuditLogTamperedError(f"audit log NOT intact: {where}{result.problem}")
    if not as_json:
        click.echo(result.summary())
        click.echo(_witness_summary(witnesses))
        if result.recorded_checkpoint:
            click.echo(f"checkpointed tree size {result.entries} in {result.checkpoint_file}", err=True)


def _witness_summary(check) -> str:
    checked = [r for r in check.reports if r.checked]
    if not checked:
        unchecked = "; ".join(f"{r.witness}: {r.status}" for r in check.reports) or "none known"
        return f"witnesses checked: none ({unchecked})"
    return "witnesses checked: " + "; ".join(
        f"{r.witness}: {r.status} ({r.heads_checked} tree head(s))" for r in checked)


def _verification_dict(result, check) -> dict:
    return {
        "ok": result.ok, "first_bad_seq": result.first_bad_seq, "problem": result.problem,
        "entries": result.entries, "root_hash": result.root_hash, "head_hash": result.head_hash,
        "checkpoints_matched": result.checkpoints, "checkpoint_file": result.checkpoint_file,
        "latest_checkpoint": result.latest_checkpoint, "recorded_checkpoint": result.recorded_checkpoint,
        "pin_file": result.pin_file, "pin_found": result.pin_found, "mac_checking": result.mac_checking,
        "macs_checked": result.macs_checked, "legacy_entries": result.legacy_entries,
        "checks": list(result.checks), "notes": list(result.notes),
        "witnesses": [r.to_dict() for r in check.reports],
    }


@audit.command("repin")
@store_option()
@click.option("--reason", metavar="TEXT", required=True,
              help="Why the store's log is re-pinned (recorded in the audit log and the pin; no patron data).")
@click.option("--yes", "confirmed", is_flag=True,
              help="Really re-pin. Without it, only show the old pin and the pin that would replace it.")
def audit_repin(store, reason, confirmed) -> None:
    """Accept the store's audit log as it is now, after a deliberate restore or replacement of the store.

    Use it only when you restored the store from a backup, moved it to a new
    URL or replaced it — when `patronguard audit verify` then reports the
    log truncated, rolled back or of another log id *because of what you
    did*. Never to make a failing verification pass otherwise. The log must
    verify on its own (chain, hashes, a MAC on every entry); an
    'audit-repinned' event with the reason is appended; the old checkpoint
    files are kept aside; a new pin is written and the new head published
    to the configured witnesses, whose earlier heads then count as
    superseded. Prints the old and the new pin. Without --yes nothing is
    written (exit 2).

    \b
    Example:
      patronguard audit repin --reason "restored from the 2026-03-01 backup" --yes
    """
    from ..audit.repin import check_reason, plan_repin, repin
    from ..audit.witness import discover_witnesses
    from ..errors import InputError
    from ..store import opened_store

    reason = check_reason(reason)
    with opened_store(store) as opened:
        if not confirmed:
            plan = plan_repin(opened)
            for line in plan.lines():
                click.echo(line)
            raise InputError("not re-pinned: nothing was written; re-run with --yes to re-pin (and only if the "
                             "store really was restored or replaced)")
        done = repin(opened, reason, witnesses=discover_witnesses())
    click.echo("re-pinned the audit log")
    for line in done.lines():
        click.echo(line)


@audit.command("report")
@store_option()
@click.option("--out", metavar="FILE.html", required=True, help="Where to write the report.")
def audit_report(store, out) -> None:
    """Write the Board of Trustees' report: one self-contained HTML file, no patron values.

    Decisions by outcome and clause, law-enforcement requests, emergencies,
    open obligations, legal holds, purges and retention runs, and whether
    the log verifies (with its tree head to keep) — listing the checks
    actually made (pin, MACs, checkpoints), never more.

    \b
    Example:
      patronguard audit report --out board-report.html
    """
    from ..audit import render_board_report, verify_log
    from ..audit.witness_check import WitnessCheck
    from ..store import opened_store

    witnesses = WitnessCheck().fetch()
    with opened_store(store) as opened:
        verification = verify_log(opened, record=False, witness_check=witnesses)
        path = render_board_report(opened, out, verification=verification)
    click.echo(f"wrote {path} ({verification.entries:,} entries; log "
               f"{'verifies' if verification.ok else 'does NOT verify'})")
