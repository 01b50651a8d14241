"""The ``patronguard`` command line. Errors become one line on stderr here, at the edge."""
from __future__ import annotations

import datetime as dt
import os
import sys

import click

from . import settings
from .cli_options import DAY, as_of_option, force_option, harden, policy_option, store_option
from .errors import InputError, PatronguardError

ILS_OPTION = click.option("--db", "db", metavar="URL", default=None,
                          help=f"ILS database URL (env PATRONGUARD_ILS_URL; default {settings.DEFAULT_ILS_URL}).")
STORE_OPTION = store_option()
AS_OF_OPTION = as_of_option()
POLICY_OPTION = policy_option()


def say(message: str) -> None:
    """Progress for people, on stderr (stdout stays clean for --json)."""
    click.echo(message, err=True)


def _parse_day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; expected YYYY-MM-DD, e.g. 2026-01-31") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="patronguard")
def cli() -> None:
    """patronguard keeps a library's promise of patron confidentiality.

    \b
    Example:
      patronguard demo
    """
    settings.quiet_third_parties()


# ----------------------------------------------------------------------------- ils
@cli.group()
def ils() -> None:
    """The library's ILS database: create a synthetic one, check a real one."""


@ils.command("init")
@ILS_OPTION
@click.option("--patrons", type=int, default=2000, show_default=True, help="Patrons to create.")
@click.option("--loans", type=int, default=50000, show_default=True, help="Loans (current + returned) to create.")
@click.option("--years", type=int, default=5, show_default=True, help="Years of history.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same library).")
@click.option("--until", metavar="DATE", type=DAY, default=None, help="Last day of the history (default: today).")
@click.option("--replace", is_flag=True, help="Drop existing Koha tables first.")
@click.option("--koha-version", "koha_version", metavar="LINE", default="current", show_default=True,
              help="Koha release line whose tables to create, e.g. 19.11, 23.11 or current "
                   "(an unsupported one is refused with the list of supported lines).")
def ils_init(db, patrons, loans, years, seed, until, replace, koha_version) -> None:
    """Create a Koha-shaped ILS filled with a deterministic synthetic library.

    All people in it are invented (Faker, seeded). Works on SQLite, MariaDB
    and PostgreSQL. --koha-version creates the tables and columns of that
    Koha release line (read from Koha's own kohastructure.sql) and sets
    systempreferences.Version to match.

    \b
    Example:
      patronguard ils init --db sqlite:///var/ils.db --patrons 2000 --loans 50000 --seed 1
      patronguard ils init --db sqlite:///var/koha1911.db --koha-version 19.11
    """
    from .ils import LibrarySpec, init_ils
    from .ils.line_schema import check_line

    line = check_line(koha_version)
    spec = LibrarySpec(patrons=patrons, loans=loans, years=years, seed=seed, until=_parse_day(until, "--until"))
    counts = init_ils(settings.ils_url(db), spec, replace=replace, progress=say, koha_version=line)
    total = sum(counts.values())
    say(f"created {total:,} rows in {len(counts)} tables (Koha release line {line})")


@ils.command("check")
@ILS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ils_check(db, as_json) -> None:
    """Check that a database is Koha-shaped and show what the PII map finds in it.

    \b
    Example:
      patronguard ils check --db mysql+pymysql://koha_ro:secret@db.example.org/koha_library
    """
    import json

    from .retention import open_ils

    engine, shape = open_ils(db)
    engine.dispose()
    info = ils_check_info(engine, shape)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['ils']} is Koha-shaped ({shape.dialect}): {shape.release.describe()}.")
    click.echo(f"Mapped tables present: {len(shape.tables)}; AnonymousPatron: {shape.anonymous_patron or 'not set'}")
    from .ils.piimap import builtin_pii_map

    for table, columns in info["mapped_columns"].items():
        if columns["missing"] and builtin_pii_map("koha").tables[table].lifecycle != "reference":
            click.echo(f"  {table}: mapped columns not in this release: {', '.join(columns['missing'])}")
    for note in shape.notes:
        click.echo(f"Note: {note}")
    if shape.unmapped:
        click.echo(f"UNMAPPED patron data ({len(shape.unmapped)} columns): `retention run` refuses to start until "
                   "each is mapped or listed under retention.out_of_scope in the policy:")
        for u in shape.unmapped:
            click.echo(f"  {u.describe()}")
    else:
        click.echo("No unmapped patron data: every column that looks like patron data is in the PII map.")


def ils_check_info(engine, shape) -> dict:
    """What ``ils check --json`` prints: release, mapped columns present or missing, unmapped patron data."""
    from .ils.piimap import builtin_pii_map

    pii_map = builtin_pii_map("koha")
    mapped = {}
    for name, table in shape.tables.items():
        columns = pii_map.tables[name].columns
        mapped[name] = {"present": sorted(c for c in columns if c in table.c),
                        "missing": sorted(c for c in columns if c not in table.c)}
    return {
        "ils": str(engine.url.render_as_string(hide_password=True)), "dialect": shape.dialect,
        "release": {"version": shape.release.version, "line": shape.release.line, "exact": shape.release.exact},
        "tables": sorted(shape.tables), "missing_optional_tables": shape.missing_optional_tables,
        "mapped_columns": mapped, "unclassified_columns": shape.unclassified_columns,
        "unmapped_patron_data": [u.to_dict() for u in shape.unmapped], "anonymous_patron": shape.anonymous_patron,
    }


# ----------------------------------------------------------------------------- retention
@cli.group()
def retention() -> None:
    """The retention schedule applied to the ILS."""


@retention.command("report")
@ILS_OPTION
@POLICY_OPTION
@STORE_OPTION
@AS_OF_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", "out_dir", metavar="DIR", default=None, help="Also write exposure-<date>.json/.md here.")
@force_option("the report files of that date already in --out")
def retention_report(db, policy, store, as_of, as_json, out_dir, force) -> None:
    """Report patron data held past retention, per table and per §1 category.

    Validates the ILS with the ils_source expectation suite first. Read-only
    on the ILS; the run is recorded in the store (counts only).

    \b
    Example:
      patronguard retention report --db sqlite:///var/ils.db --policy policy/westport.yaml --as-of 2026-06-30
    """
    from .cli_options import check_report_outputs
    from .retention import exposure_report, render_json, render_text, write_report_files

    if out_dir:  # refused before the ILS is read or the store written
        as_of = check_report_outputs(out_dir, policy, as_of, force=force)
    report = exposure_report(db, policy, store_url=store, as_of=as_of, progress=None if as_json else say)
    if out_dir:
        for path in write_report_files(report, out_dir):
            say(f"wrote {path}")
    click.echo(render_json(report) if as_json else render_text(report))


@retention.command("run")
@ILS_OPTION
@POLICY_OPTION
@STORE_OPTION
@AS_OF_OPTION
@click.option("--dry-run", is_flag=True, help="Measure and show what would be done; change nothing in the ILS.")
@click.option("--batch-size", type=int, default=20_000, show_default=True, help="Rows per batch (expired patrons: at most 2,000 per batch).")
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

    \b
    Example:
      patronguard retention run --db sqlite:///var/ils.db --policy policy/westchester.yaml --dry-run
    """
    import json

    from .retention.render_run import render_run_text
    from .retention.run import run_retention

    run = run_retention(db, policy, store_url=store, as_of=as_of, dry_run=dry_run, batch_size=batch_size,
                        progress=None if as_json else say, lock_wait=lock_wait)
    click.echo(json.dumps(run.summary(), indent=2) if as_json else render_run_text(run))


@retention.command("verify")
@ILS_OPTION
@POLICY_OPTION
@STORE_OPTION
@AS_OF_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
def retention_verify(db, policy, store, as_of, as_json) -> None:
    """Check nothing past retention still identifies a patron and the warehouse equals the ledger.

    Exits 1 and names the table on any discrepancy. Read-only.

    \b
    Example:
      patronguard retention verify --db sqlite:///var/ils.db --store sqlite:///var/patronguard.db
    """
    import json

    from .retention.run import verify_only
    from .retention.verify import require_verified

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


# ----------------------------------------------------------------------------- policy
@cli.group()
def policy() -> None:
    """The library's policy files."""


@policy.command("check")
@click.argument("file", metavar="FILE")
def policy_check(file) -> None:
    """Validate a policy file against its schema, the ILS's PII map and the after-run expectation suite.

    \b
    Example:
      patronguard policy check policy/westchester.yaml
    """
    from .policy import check_against_after_suite, load_policy

    loaded = load_policy(file)
    check_against_after_suite(loaded)
    p = loaded.policy.policy
    click.echo(f"{file}: valid — {p.library}, {p.document}, version {p.version}, adopted {p.adopted} "
               f"by {p.adopted_by}; {len(loaded.policy.retention.schedule)} retention rules; sha256 {loaded.sha256[:12]}")


# ----------------------------------------------------------------------------- store
@cli.group()
def store() -> None:
    """The pipeline's own database."""


@store.command("migrate")
@STORE_OPTION
def store_migrate(store) -> None:
    """Create or upgrade the store to the latest schema version.

    \b
    Example:
      patronguard store migrate --store postgresql+psycopg://patronguard@127.0.0.1/patronguard
    """
    from .store import current_version, open_store

    opened = open_store(store)
    click.echo(f"{opened.url}: at schema version {current_version(opened.engine)}")


# ----------------------------------------------------------------------------- demo
@cli.command("demo")
@click.option("--dir", "var_dir", metavar="DIR", default=None, help="Where the demo's files go (default var/).")
@click.option("--policy", "policy", metavar="FILE", default=None, help="Policy file (default policy/westchester.yaml).")
@click.option("--patrons", type=int, default=2000, show_default=True, help="Patrons in a new demo ILS.")
@click.option("--loans", type=int, default=50000, show_default=True, help="Loans in a new demo ILS.")
def demo(var_dir, policy, patrons, loans) -> None:
    """See patronguard work in one command: demo ILS + nightly flow on an ephemeral Prefect API.

    Creates var/ils.db if missing (a synthetic library), runs the
    nightly-retention flow and prints the privacy-exposure report.

    \b
    Example:
      patronguard demo
    """
    from .demo import run_demo

    run_demo(var_dir=var_dir, policy=policy, patrons=patrons, loans=loans, say=say, show=click.echo)


def _register_groups() -> None:
    """The gateway, keys, audit and workflow commands live in their own modules."""
    from .cli_audit import audit
    from .cli_keys import keys
    from .cli_request import request
    from .cli_workflow import REQUEST_COMMANDS, holds, obligations, purge

    for command in REQUEST_COMMANDS:
        request.add_command(command)
    for group in (request, keys, audit, holds, obligations, purge):
        cli.add_command(group)
    harden(cli)  # strict types on every command's options, output files guarded (cli_options)


_register_groups()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line per error, non-zero exit."""
    try:
        cli.main(args=argv, prog_name="patronguard", standalone_mode=False)
    except PatronguardError as exc:
        click.echo(f"patronguard: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("patronguard: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("patronguard: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the edge: one line, no patron values
        if os.environ.get("PATRONGUARD_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        click.echo(f"patronguard: unexpected error ({type(exc).__name__}): {first} "
                   "[set PATRONGUARD_DEBUG=1 for the traceback]", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
