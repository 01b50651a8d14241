"""``patronguard ils``: create a synthetic Koha-shaped ILS; check a real one against the PII map."""
from __future__ import annotations

import datetime as dt

import click

from .. import settings
from ..errors import InputError
from .options import DAY, ils_option
from .output import say


def _parse_day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; expected YYYY-MM-DD, e.g. 2026-01-31") from None


@click.group("ils")
def ils() -> None:
    """The library's ILS database: create a synthetic one, check a real one."""


@ils.command("init")
@ils_option()
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
      patronguard ils init --patrons 2000 --loans 50000 --seed 1
      patronguard ils init --db sqlite:///koha1911.db --koha-version 19.11
    """
    from ..ils import LibrarySpec, init_ils
    from ..ils.line_schema import check_line

    line = check_line(koha_version)
    spec = LibrarySpec(patrons=patrons, loans=loans, years=years, seed=seed, until=_parse_day(until, "--until"))
    counts = init_ils(settings.ils_url(db), spec, replace=replace, progress=say, koha_version=line)
    total = sum(counts.values())
    say(f"created {total:,} rows in {len(counts)} tables (Koha release line {line})")


@ils.command("check")
@ils_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ils_check(db, as_json) -> None:
    """Check that a database is Koha-shaped and show what the PII map finds in it.

    \b
    Example:
      patronguard ils check --db mysql+pymysql://koha_ro:secret@db.example.org/koha_library
    """
    import json

    from ..retention import open_ils

    engine, shape = open_ils(db)
    engine.dispose()
    info = ils_check_info(engine, shape)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['ils']} is Koha-shaped ({shape.dialect}): {shape.release.describe()}.")
    click.echo(f"Mapped tables present: {len(shape.tables)}; AnonymousPatron: {shape.anonymous_patron or 'not set'}")
    from ..ils.piimap import builtin_pii_map

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
    from ..ils.piimap import builtin_pii_map

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
