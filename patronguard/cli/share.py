"""``patronguard share``: the share gate on the command line (:func:`patronguard.share.share_file`)."""
from __future__ import annotations

import sys

import click

from ..errors import TerminalError, TransientError
from .options import ils_option, policy_option, store_option
from .output import dumps, show_table

#: exit code of a share that was not released (quarantined, or refused by the gateway)
EXIT_NOT_RELEASED = 3


class ShareFailedError(TerminalError):
    """A failure that elsewhere is transient (exit 3): for ``share``, 3 means not released, so it exits 2."""


@click.command("share")
@click.argument("file", metavar="FILE")
@click.option("--to", "to", metavar="NAME", required=True,
              help="The recipient: the id the request names (recipient.id; requester.id for statistics). "
                   "The file goes to SHARE_DIR/NAME/.")
@click.option("--request", "request_file", metavar="REQUEST.json", required=True,
              help="The share as a gateway request (docs/requests.md): disclose_records with subjects and "
                   "recipient, or anonymised_statistics.")
@policy_option()
@ils_option()
@store_option("store_url")
@click.option("--consent-type", metavar="TYPE", default=None,
              help="For a share resting on each patron's recorded consent (evidence.consent: per_patron): the "
                   "patron_consent type that records it, e.g. GDPR_PROCESSING.")
@click.option("--share-dir", metavar="DIR", default=None,
              help="The share folder (default: VAR/share); the file is released into DIR/NAME/.")
@click.option("--quarantine-dir", metavar="DIR", default=None,
              help="Where a blocked file is kept (default: VAR/quarantine); never released from there.")
@click.option("--redact", is_flag=True,
              help="If patron data is found, write a redacted copy (Presidio's anonymizer), scan it again and "
                   "release it only if clean.")
@click.option("--settings", "settings_file", metavar="FILE.yaml", default=None,
              help="Scan settings (default: built in).")
@click.option("--dask-address", metavar="ADDRESS", default=None,
              help="Scan the export chunk by chunk on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786; its workers need patronguard installed). Default: in this process.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def share(file, to, request_file, policy, db, store_url, consent_type, share_dir, quarantine_dir, redact,
          settings_file, dask_address, as_json) -> None:
    """Release an export to a recipient only if nothing in it leaks a patron.

    The gateway decides first: the share is a request (REQUEST.json) decided
    under the policy — nothing is read if it releases nothing to NAME. Then
    the file is scanned for patron data with the ILS's patrons (--db, read
    only): data of patrons the decision releases may go, anything else
    blocks (for statistics, any finding blocks). Released: copied into
    SHARE_DIR/NAME/ with a scan record beside it; blocked: copied into
    quarantine, never released. Every decision goes to the audit log (counts
    and entity kinds, never values). Running the same share again releases
    nothing twice. A large export can be scanned on a Dask cluster
    (--dask-address). Exit code 0: released; 3: quarantined or refused; 2: bad
    input or any other failure, one line, nothing released.

    \b
    Example:
      patronguard share examples/share/branch-circulation-2026-06.csv --to library-board --request examples/share/board-statistics-request.json --policy policy/westchester.yaml
    """
    from ..share import share_file

    mapper = None
    if dask_address:
        from ..share.on_dask import dask_mapper

        mapper = dask_mapper(dask_address)
    try:
        result = share_file(file, to=to, request=request_file, policy=policy, ils_url=db, store_url=store_url,
                            share_dir=share_dir, quarantine_dir=quarantine_dir, redact=redact,
                            consent_type=consent_type, settings_file=settings_file, mapper=mapper)
    except TransientError as exc:      # e.g. the ILS unreachable: an error (2), never "not released" (3)
        raise ShareFailedError(f"{exc} (transient: worth retrying)") from None
    if as_json:
        click.echo(dumps(result.to_dict()))
    else:
        _show(result)
    if not result.released:
        sys.exit(EXIT_NOT_RELEASED)


def _show(result) -> None:
    decision = result.decision
    clauses = "; ".join(decision.get("clauses") or []) or "-"
    if result.outcome == "refused":
        click.echo(f"REFUSED: {result.reason}")
        click.echo(f"gateway: {decision['outcome']} ({clauses}); nothing scanned, nothing released")
        return
    click.echo(f"{result.outcome.upper()}: {result.reason}")
    click.echo(f"gateway: {decision['outcome']} ({clauses})")
    scan = result.redacted_scan or result.scan
    if scan and not result.retried:
        counts = ", ".join(f"{e} ×{n}" for e, n in scan["entities"]["permitted"].items())
        click.echo(f"scanned: {result.scan['rows']:,} rows, {result.scan['cells']:,} cells; "
                   f"{scan['blocking']:,} blocking, {scan['permitted']:,} released by the decision"
                   + (f" ({counts})" if counts else ""))
    if result.outcome == "released":
        click.echo(f"released: {result.path}")
        click.echo(f"record: {result.record}")
    else:
        from ..scan.report import SUMMARY_COLUMNS

        rows = [[v["file"], v["column"], ", ".join(f"{e} ×{n}" for e, n in v["entities"].items()),
                 f"{v['cells_with_findings']:,}/{v['cells']:,}", f"{v['hit_rate']:.1%}", f"{v['max_score']:.2f}",
                 v["distinct_values"], ", ".join(v["examples"]), "; ".join(v["why"])] for v in result.verdicts]
        show_table("Patron data the decision does not release, by column", SUMMARY_COLUMNS, rows, empty="")
        click.echo(f"quarantined: {result.path} (not released)")
