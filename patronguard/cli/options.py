"""Options shared by the command modules, declared once here so every command spells them the same way — and
reads them strictly.

Every value given on the command line is checked before a command does any
work, and a bad one is one line (:class:`~patronguard.errors.InputError`,
exit 2) naming the option:

- numbers are ASCII digits only (``int("٣")`` would be 3) and bounded;
- dates are ``YYYY-MM-DD`` within :data:`~patronguard.datafiles.MIN_DAY` …
  :data:`~patronguard.datafiles.MAX_DAY` (an empty ``--as-of`` is not "today");
- ids and scopes are ASCII;
- JSON documents named on the command line are read with the limits of
  every file read (:mod:`patronguard.datafiles`);
- an output file is never a database, and an existing file is overwritten
  only with ``--force`` (:mod:`patronguard.outputs`).

:func:`harden` applies the first four to every command of the group (the
types of options declared ``type=int``/``float`` anywhere are swapped for the
strict ones) and guards the output options listed in :data:`OUTPUT_FILES`.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
from pathlib import Path

import click

from .. import settings
from ..datafiles import MAX_DAY, check_day, parse_structured, read_limited
from ..errors import InputError
from ..outputs import check_folder, check_output_file, check_output_files

INT64 = (-(2**63), 2**63 - 1)
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_FLOAT_TEXT = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")
_ID_TEXT = re.compile(r"[\x21-\x7e]{1,200}")   # printable ASCII, no spaces
_ASCII_TEXT = re.compile(r"[\x20-\x7e]{1,200}")   # printable ASCII

#: command path → name of the parameter that is an output file, guarded by :func:`guard_output`
OUTPUT_FILES = {"audit report": "out", "keys sign": "out", "keys delegate": "out"}
#: parameters that carry ids or scopes: ASCII only (``patron:٣`` is not patron 3)
ID_PARAMETERS = {"scope", "request_id", "hold_id", "obligation_id"}
#: JSON documents named on the command line (signed authorizations, appointments): checked
#: with the limits of every file read (size, regular file, duplicate keys, depth) before the command runs
JSON_FILE_PARAMETERS = {"authorization", "authorization_file", "delegation_file"}
#: dates, date-times and durations parsed outside this module (``7d``, ``2026-07-01T17:00:00Z``): ASCII only
ASCII_PARAMETERS = {"expires", "valid_from", "valid_until"}


def option_name(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return param.human_readable_name if param is not None else "value"


class AsciiInt(click.ParamType):
    """A whole number written in ASCII digits, within ``min``…``max`` (default: a signed 64-bit integer)."""

    name = "integer"

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min = INT64[0] if min is None else min
        self.max = INT64[1] if max is None else max

    def convert(self, value, param, ctx) -> int:
        name = option_name(param)
        if isinstance(value, bool):
            raise InputError(f"{name}: {value!r} is not a whole number")
        if isinstance(value, int):
            number = value
        else:
            text = str(value)
            if not _INT_TEXT.fullmatch(text):
                raise InputError(f"{name}: {text[:40]!r} is not a whole number; expected ASCII digits "
                                 f"between {self.min} and {self.max}")
            number = int(text)
        if not self.min <= number <= self.max:
            raise InputError(f"{name}: {number} is out of range; expected {self.min} to {self.max}")
        return number


class AsciiFloat(click.ParamType):
    """A finite decimal number written in ASCII (``5``, ``0.5``), within ``min``…``max``."""

    name = "number"

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        self.min = -1e12 if min is None else min
        self.max = 1e12 if max is None else max

    def convert(self, value, param, ctx) -> float:
        name = option_name(param)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value)
            if not _FLOAT_TEXT.fullmatch(text):
                raise InputError(f"{name}: {text[:40]!r} is not a number; expected ASCII digits, e.g. 5 or 0.5")
            number = float(text)
        if not math.isfinite(number) or not self.min <= number <= self.max:
            raise InputError(f"{name}: {number:g} is out of range; expected {self.min:g} to {self.max:g}")
        return number


class Day(click.ParamType):
    """A day, ``YYYY-MM-DD`` in ASCII digits within the sane range; passed on as that text.
    ``future_refused_later``: no upper bound here (the command refuses a future day itself, saying so)."""

    name = "date"

    def __init__(self, future_refused_later: bool = False) -> None:
        self.latest = dt.date.max if future_refused_later else MAX_DAY

    def convert(self, value, param, ctx) -> str:
        try:
            return check_day(value, self.latest).isoformat()
        except ValueError as exc:
            raise InputError(f"{option_name(param)}: {exc}") from None


class AsciiId(click.ParamType):
    """An id or scope: printable ASCII without spaces (``spaces``: with), at most 200 characters."""

    name = "text"

    def __init__(self, spaces: bool = False) -> None:
        self.pattern = _ASCII_TEXT if spaces else _ID_TEXT

    def convert(self, value, param, ctx) -> str:
        text = str(value)
        if not self.pattern.fullmatch(text):
            raise InputError(f"{option_name(param)}: {text[:40]!r} is not valid here; expected ASCII letters, "
                             "digits and punctuation (e.g. patron:1234, 7d, 2026-07-01)")
        return text


class CheckedJsonFile(click.ParamType):
    """A JSON document's path, checked as every file read is (:func:`patronguard.datafiles.read_limited`,
    strict parse), so the command that reads it later gets a sane file; passed on as given."""

    name = "file"

    def convert(self, value, param, ctx) -> str:
        name = option_name(param)
        try:
            parse_structured(read_limited(Path(value), InputError), str(value), InputError, as_json=True)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None
        return value


DAY = Day()


# ----------------------------------------------------------------------------- the shared options
def ils_option():
    return click.option("--db", "db", metavar="URL", default=None,
                        help=f"ILS database URL (env PATRONGUARD_ILS_URL; default {settings.DEFAULT_ILS_URL}).")


def store_option(dest: str = "store"):
    return click.option("--store", dest, metavar="URL", default=None,
                        help=f"Store URL (env PATRONGUARD_STORE_URL; default {settings.DEFAULT_STORE_URL}).")


def policy_option(dest: str = "policy"):
    return click.option("--policy", dest, metavar="FILE", default=None,
                        help=f"Policy file (env PATRONGUARD_POLICY; default {settings.DEFAULT_POLICY}).")


def as_of_option():
    return click.option("--as-of", "as_of", metavar="DATE", type=Day(future_refused_later=True), default=None,
                        help="Judge ages as of this day, YYYY-MM-DD (default: today in the library's time zone).")


def force_option(what: str = "an existing output file"):
    return click.option("--force", is_flag=True, help=f"Overwrite {what} (never a database).")


def actor_option():
    return click.option("--by", "actor", metavar="NAME", required=True,
                        help="Who records this step (staff id or role, never a patron).")


def check_report_outputs(out_dir: str, policy: str | None, as_of: str | None, *, force: bool) -> str:
    """Before a report is made: the day it will be as of (today in the policy's time zone unless
    given), and its two files under ``out_dir`` checked (:func:`patronguard.outputs.check_output_file`)."""
    from ..policy import load_policy
    from ..retention.asof import resolve_as_of

    day = resolve_as_of(as_of, load_policy(settings.policy_path(policy)).policy.tz)
    folder = check_folder(Path(out_dir), "--out")
    stem = f"exposure-{day.isoformat()}"
    check_output_files([folder / f"{stem}.json", folder / f"{stem}.md"], "--out", force=force)
    return day.isoformat()


# ----------------------------------------------------------------------------- applied to every command
def harden(group: click.Group) -> None:
    """Strict parameter types on every command of ``group``; output guards on :data:`OUTPUT_FILES`."""
    for path, command in iter_commands(group):
        for param in command.params:
            _strict_type(param)
        if path in OUTPUT_FILES and any(p.name == OUTPUT_FILES[path] for p in command.params):
            guard_output(command, OUTPUT_FILES[path])   # (a test checks every entry is found)


def iter_commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            yield from iter_commands(command, path)
        else:
            yield path, command


def _strict_type(param: click.Parameter) -> None:
    kind = param.type
    if isinstance(kind, click.types.IntParamType):
        bounded = isinstance(kind, click.IntRange)
        low = None if not bounded or kind.min is None else kind.min + (1 if kind.min_open else 0)
        high = None if not bounded or kind.max is None else kind.max - (1 if kind.max_open else 0)
        param.type = AsciiInt(low, high)
    elif isinstance(kind, click.types.FloatParamType):
        bounded = isinstance(kind, click.FloatRange)
        param.type = AsciiFloat(kind.min if bounded else None, kind.max if bounded else None)
    elif not isinstance(kind, click.types.StringParamType):
        return
    elif param.name in ID_PARAMETERS | ASCII_PARAMETERS:
        param.type = AsciiId(spaces=param.name in ASCII_PARAMETERS)
    elif param.name in JSON_FILE_PARAMETERS:
        param.type = CheckedJsonFile()


def guard_output(command: click.Command, name: str) -> None:
    """Check ``command``'s output parameter ``name`` before the command runs; add ``--force`` if it has none."""
    param = next(p for p in command.params if p.name == name)
    own_force = any(p.name == "force" for p in command.params)
    if not own_force:
        command.params.append(click.Option(["--force"], is_flag=True,
                                           help="Overwrite an existing output file (never a database)."))
    run = command.callback

    @functools.wraps(run)
    def guarded(*args, **kwargs):
        force = kwargs.get("force", False) if own_force else kwargs.pop("force", False)
        if kwargs.get(name):
            check_output_file(kwargs[name], option_name(param), force=force)
        return run(*args, **kwargs)

    command.callback = guarded
