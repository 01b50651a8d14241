"""``patronguard stats`` and ``patronguard stats pls``: anonymised statistics for library staff."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import click

from .options import ils_option, policy_option, store_option
from .output import dumps

#: exit code of a request the gateway refuses
EXIT_REFUSED = 3


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


@click.group("stats", invoke_without_command=True)
@click.option("--by", "by", metavar="DIM,DIM…", default=None,
              help="Dimensions: day, week, month, quarter or year (one), branch, itemtype, collection, "
                   "location, patron_category, age_band.")
@click.option("--measures", metavar="M,M…", default="checkouts", show_default=True,
              help="checkouts, renewals, returns, distinct_patrons, holds_placed, holds_filled, removed_patrons "
                   "(by year, branch, patron_category, age_band only), new_registrations (by period, branch, "
                   "patron_category, age_band at enrolment).")
@click.option("--from", "from_day", metavar="DATE", default=None, help="First day, YYYY-MM-DD (included).")
@click.option("--to", "to_day", metavar="DATE", default=None,
              help="Last day, YYYY-MM-DD (included), before today (default: the end of the last complete month).")
@click.option("--where", "where", metavar="DIM=VALUE", multiple=True, help="Only rows with this value (repeatable).")
@click.option("--requester", metavar="ID", default=None, help="Who asks (a member of staff); the gateway decides.")
@click.option("--min-count", "min_count", metavar="K", default=None,
              help="Distinct patrons a released cell needs (default and floor: the policy's, 10).")
@click.option("--out", "out_dir", metavar="DIR", default=None, help="Write stats.csv and stats.json into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the released table as JSON.")
@click.option("--generalise", "generalise", is_flag=False, flag_value="age_band,period", default=None,
              metavar="[WHAT,WHAT]",
              help="Where cells fall below k, widen instead of suppressing: age_band (narrow → wide bands), "
                   "period (month → quarter → year), in the order given; alone: both, age bands first. "
                   "The output says what was widened.")
@click.option("--wide-age-bands", "wide_age_bands", is_flag=True,
              help="Count age bands as 0-17, 18-64 and 65+ instead of the narrow bands.")
@ils_option()
@store_option("store_url")
@policy_option()
@click.pass_context
def stats(ctx, by, measures, from_day, to_day, where, requester, min_count, out_dir, as_json, generalise,
          wide_age_bands, db, store_url, policy) -> None:
    """Anonymised statistics: counts by period, branch, collection, patron group — never by patron.

    Periods already anonymised come from the statistics warehouse, the rest
    from the live ILS (read only), merged without double counting; counts are
    grouped in the databases. The gateway decides the request first
    (anonymised_statistics, requester role staff). Each released cell needs
    at least K distinct patrons; smaller ones, and enough others that they
    cannot be worked out from the totals, are marked "x" (never 0). A table
    covers closed days only: without --to it ends with the last complete month
    (in the policy's time zone); the same question released before for a
    nested period is checked so the two cannot be differenced. Exit 0:
    released; 3: refused by the gateway; 2: bad input, one line.

    \b
    Example:
      patronguard stats --by year,branch --measures checkouts,renewals --requester circ-desk-7
      patronguard stats --by quarter,patron_category --where branch=MAIN --requester circ-desk-7 --json
      patronguard stats --by month,age_band --from 2025-01-01 --to 2025-12-31 --generalise age_band --requester circ-desk-7
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..errors import InputError
    from ..stats import service
    from ..stats.request import parse_stats_request

    if by is None:
        raise InputError("--by: give one or more dimensions, e.g. --by month,branch")
    if requester is None:
        raise InputError("--requester: give the id of the member of staff asking")
    raw = {"by": by, "measures": measures, "where": list(where), "requester": requester, "min_count": min_count,
           "wide_age_bands": wide_age_bands}
    raw |= {k: v for k, v in (("from", from_day), ("to", to_day)) if v is not None}
    request = parse_stats_request(**raw)
    decided = service.decide_stats(request, policy)
    request = decided.request                       # its period pinned to closed days
    k, loaded, decision = decided.k, decided.loaded, decided.decision
    if not decision.allowed:
        service.record_stats(store_url, request, decided, None)
        click.echo(f"REFUSED: {decision.reason}")
        sys.exit(EXIT_REFUSED)
    steps: list[str] = []
    if generalise:
        widen = tuple(w.strip() for w in generalise.split(",") if w.strip())
        request, released, steps = service.count_generalising(request, k, ils_url=db, store_url=store_url,
                                                              widen=widen)
        for step in steps:
            click.echo(f"generalised: {step} (cells below k at the finer grain)", err=True)
    else:
        released = service.count_and_suppress(request, k, ils_url=db, store_url=store_url)
    scan = None
    if out_dir:
        _release, paths = service.write_release(released, request, decided, Path(out_dir))
        scan = service.scan_release(paths, ils_url=db)       # a file leaving the library passes the leak scan
        (Path(out_dir) / "stats.json").write_text(
            dumps(released.summary() | {"decision": decision.outcome, "policy_version": loaded.version,
                                        "rows": released.rows()}) + "\n", encoding="utf-8")
    service.record_stats(store_url, request, decided, released, scan=scan)
    rows = released.rows()
    summary = released.summary() | {"decision": decision.outcome, "policy_version": loaded.version,
                                    "generalised": steps}
    if as_json:
        click.echo(dumps(summary | {"rows": rows}))
    elif not out_dir:
        click.echo(_csv(rows), nl=False)
    else:
        click.echo(f"wrote {Path(out_dir) / 'stats.csv'}, stats.png and summary.html ({len(rows):,} rows; k = {k}; "
                   "suppressed cells marked x; leak scan clean)")


@stats.command("pls")
@click.option("--year", "year", metavar="YYYY", required=True, help="The reporting year.")
@click.option("--children", "children", metavar="FILE.yaml", default=None,
              help="Which collections and item types are children's materials (PLS 551): "
                   "collections: [..], item_types: [..] (default: JFIC, JNF).")
@ils_option()
@store_option("store_url")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def pls(year, children, db, store_url, as_json) -> None:
    """The IMLS Public Libraries Survey circulation and user figures the ILS can answer.

    Total circulation (550), children's circulation (551), physical item
    circulation (553, renewals included) and registered users, as the state
    data coordinator enters them, with the definitions cited. The same
    before and after a retention run: anonymised periods come from the
    warehouse.

    \b
    Example:
      patronguard stats pls --year 2025
    """
    from ..errors import InputError
    from ..ils.piimap import builtin_pii_map
    from ..retention.engine import checked_hash_key
    from ..retention.report import opened_ils
    from ..stats.pls import load_childrens_materials, pls_figures
    from ..store import opened_store

    if not str(year).isdigit() or len(str(year)) != 4:
        raise InputError(f"--year: {str(year)[:10]!r} is not a year (YYYY)")
    mapping = load_childrens_materials(children)
    with opened_ils(db, scan_unmapped=False) as (engine, shape), opened_store(store_url) as store:
        figures = pls_figures(engine, shape, builtin_pii_map("koha"), store, int(year), checked_hash_key(store),
                              mapping)
    if as_json:
        click.echo(dumps(figures.to_dict()))
        return
    click.echo(f"IMLS Public Libraries Survey, {figures.year} (from the ILS)")
    for code, label, value in (("550", "Total circulation of materials", figures.total_circulation_550),
                               ("551", "Circulation of children's materials", figures.childrens_circulation_551),
                               ("553", "Physical item circulation", figures.physical_circulation_553),
                               ("REGBOR", "Registered users", figures.registered_users)):
        click.echo(f"  {code:<7} {label:<38} {value:>10,}")
    for note in figures.notes:
        click.echo(f"  note: {note}")
    click.echo(f"  definitions: {figures.source}")
