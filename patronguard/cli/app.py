"""The root ``patronguard`` group, its command groups, and the edge where every error becomes one line."""
from __future__ import annotations

import os
import sys

import click

from .. import settings
from ..errors import PatronguardError
from .audit import audit
from .demo import demo
from .holds import holds
from .ils import ils
from .keys import keys
from .obligations import obligations
from .options import harden
from .policy import policy
from .purge import purge
from .requests import request
from .retention import retention
from .scan import scan
from .share import share
from .stats import stats
from .store import store

PROG = "patronguard"
#: A group run without its command prints its help (exit 2): that is help, not an error line.
_HELP_NOT_ERROR = getattr(click.exceptions, "NoArgsIsHelpError", ())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="patronguard")
def cli() -> None:
    """patronguard keeps a library's promise of patron confidentiality.

    \b
    Example:
      patronguard demo
    """
    settings.quiet_third_parties()


for _command in (ils, retention, policy, store, demo, request, keys, audit, holds, obligations, purge, scan, share,
                 stats):
    cli.add_command(_command)
harden(cli)  # strict types on every command's options, output files guarded (options.py)


def usage_error_line(exc: click.UsageError) -> str:
    """A usage error (unknown option, missing argument, bad choice) as one line naming the command:
    ``patronguard: error: <command>: <message>``."""
    path = exc.ctx.command_path if exc.ctx is not None else PROG
    command = path.split(" ", 1)[1] if " " in path else ""
    message = " ".join(exc.format_message().split())
    return f"{PROG}: error: {command}: {message}" if command else f"{PROG}: error: {message}"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line per error, non-zero exit."""
    try:
        cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except PatronguardError as exc:
        click.echo(f"patronguard: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("patronguard: aborted", err=True)
        sys.exit(130)
    except _HELP_NOT_ERROR as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        click.echo(usage_error_line(exc), err=True)
        sys.exit(2)
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
