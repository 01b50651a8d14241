"""What the command modules print alike: progress for people on stderr, a gateway decision, a refusal as JSON."""
from __future__ import annotations

import json

import click


def say(message: str) -> None:
    """Progress for people, on stderr (stdout stays clean for --json)."""
    click.echo(message, err=True)


def verdict(decision) -> dict | None:
    """The written authorization's verdict, for output: verified or not, and why."""
    from ..authz import authorization_verdict

    text = authorization_verdict(decision)
    if text is None:
        return None
    return {"verified": text.startswith("verified"), "reason": text.split(": ", 1)[-1]}


def show_decision(decision, as_json: bool) -> None:
    shown = verdict(decision)
    if as_json:
        click.echo(json.dumps({**decision.to_dict(), "authorization": shown}, indent=2))
        return
    click.echo(f"{decision.outcome.upper()}: {decision.reason}")
    if shown is not None:
        click.echo(f"  written authorization: {'verified' if shown['verified'] else 'NOT verified'}: "
                   f"{shown['reason']}")
    if decision.fields:
        click.echo(f"  fields: {', '.join(decision.fields)}")
    click.echo(f"  clauses: {'; '.join(decision.clauses) or '-'}")
    for o in decision.obligations:
        due = f" (within {o.due_days} days)" if o.due_days is not None else ""
        click.echo(f"  obligation: {o.text}{due}")
    click.echo(f"  policy: {decision.policy_library} {decision.policy_version} (sha256 {decision.policy_sha256[:12]})")


def refused_json(exc) -> None:
    """With --json a refusal is also a JSON object on stdout (the one-line error still goes to stderr)."""
    decision = getattr(exc, "decision", None)
    click.echo(json.dumps({"refused": True, "reason": getattr(exc, "reason", str(exc)), "error": str(exc),
                           "decision": decision.to_dict() if decision is not None else None,
                           "authorization": verdict(decision) if decision is not None else None}, indent=2))


def _json_default(value):
    import datetime as dt

    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def dumps(value) -> str:
    """JSON for --json output: dates as ISO 8601 text."""
    return json.dumps(value, indent=2, default=_json_default)


def show_table(title: str, columns: list[str], rows: list[list], *, empty: str) -> None:
    """A list for people: a rich table with a title and headers on a terminal; piped, the same headers and
    rows as plain columns, one line per row (no colour, no box art, never folded); ``empty`` when there is
    nothing to list."""
    if not rows:
        click.echo(empty)
        return
    cells = [["-" if cell is None else str(cell) for cell in row] for row in rows]
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(columns)]
        for line in [columns, *cells]:
            click.echo("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())
        return
    table = Table(title=title, show_header=True, header_style="bold", box=box.SIMPLE, pad_edge=False)
    for i, name in enumerate(columns):
        table.add_column(name, no_wrap=i == 0, overflow="fold")   # an id is never broken
    for row in cells:
        table.add_row(*row)
    console.print(table)
