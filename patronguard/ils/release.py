"""Koha release lines as data: which tables and columns each line has, and which line a database is.

The facts (``koha_lines.yaml``) were read from Koha's own
``installer/data/mysql/kohastructure.sql`` of each supported release line:
names, types, nullability and keys only. They drive three things: the
detection of a connected database's release (``systempreferences.Version``),
``ils init --koha-version LINE`` (which creates that line's tables), and the
test that the PII map classifies every column of every supported line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ..datafiles import load_model
from ..errors import PiiMapError, UnsupportedReleaseError

LINES_FILE = Path(__file__).with_name("koha_lines.yaml")
VERSION_PREFERENCE = "Version"
_VERSION = re.compile(r"^\s*(\d{1,2})\.(\d{2})(\d*)\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnFact(_Strict):
    type: str = Field(examples=["varchar(80)"])
    null: bool = True
    auto_increment: bool = False


class ForeignKeyFact(_Strict):
    references: str = Field(examples=["borrowers.borrowernumber"])
    on_delete: str = Field(default="RESTRICT", examples=["CASCADE"])


class TableFact(_Strict):
    primary_key: list[str] = []
    columns: dict[str, ColumnFact]
    foreign_keys: dict[str, ForeignKeyFact] = {}


class SourceFact(_Strict):
    repo: str
    commit: str | None = None
    koha_version: str


class LineFacts(_Strict):
    read_from: SourceFact
    version_preference: str = Field(examples=["19.1105000"])
    tables: dict[str, TableFact]
    all_tables: list[str] = []


class KohaLines(_Strict):
    lines: dict[str, LineFacts]


@cache
def koha_lines() -> KohaLines:
    return load_model(LINES_FILE, KohaLines, PiiMapError)[0]


def supported_lines() -> list[str]:
    """The supported release lines, oldest first (``current`` last)."""
    return sorted(koha_lines().lines, key=lambda name: line_number(name))


def line_number(line: str) -> tuple[int, int]:
    if line == "current":
        return version_number(koha_lines().lines["current"].version_preference)
    major, minor = line.split(".")
    return int(major), int(minor)


def version_number(value: str) -> tuple[int, int]:
    """``19.1105000`` (Koha's Version preference) or ``19.11.05.000`` → (19, 11)."""
    text = str(value).strip()
    dotted = re.match(r"^(\d{1,2})\.(\d{2})\.", text)
    match = dotted or _VERSION.match(text)
    if not match:
        raise UnsupportedReleaseError(f"systempreferences.Version is {text[:20]!r}; expected a Koha version "
                                      "such as 23.1106000")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class KohaRelease:
    version: str          # as the database states it
    line: str             # the supported line whose facts apply
    exact: bool           # the version is of that line itself (not a release between two lines)

    def describe(self) -> str:
        label = "current" if self.line == "current" else self.line
        how = "" if self.exact else " (between supported lines; checked against the nearest older line's facts)"
        return f"Koha {self.version} — release line {label}{how}"


def release_for_version(version: str) -> KohaRelease:
    """The supported line for a Koha version, or UnsupportedReleaseError naming what was found."""
    found = version_number(version)
    lines = supported_lines()
    numbers = [line_number(line) for line in lines]
    if found < numbers[0]:
        raise UnsupportedReleaseError(
            f"systempreferences.Version is {version}: Koha {found[0]}.{found[1]:02d} is older than the oldest "
            f"supported release line ({lines[0]}); supported: {', '.join(lines)}")
    newest = numbers[-1]
    if found > newest:
        raise UnsupportedReleaseError(
            f"systempreferences.Version is {version}: Koha {found[0]}.{found[1]:02d} is newer than any release "
            f"patronguard knows (newest: {newest[0]}.{newest[1]:02d}); its new tables may hold patron data "
            "that is not mapped yet")
    line = max((line for line, number in zip(lines, numbers) if number <= found), key=line_number)
    return KohaRelease(version=str(version).strip(), line=line, exact=line_number(line) == found)


def read_version(engine: Engine, present: set[str]) -> str:
    """The ``Version`` systempreference, or UnsupportedReleaseError if the database does not state one."""
    if "systempreferences" not in present:
        raise UnsupportedReleaseError("no systempreferences table: cannot tell which Koha release this is")
    prefs = sa.Table("systempreferences", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        value = conn.execute(sa.select(prefs.c.value).where(prefs.c.variable == VERSION_PREFERENCE)).scalar()
    if value is None or not str(value).strip():
        raise UnsupportedReleaseError("systempreferences has no Version: cannot tell which Koha release this is")
    return str(value)


def detect_release(engine: Engine, present: set[str]) -> KohaRelease:
    return release_for_version(read_version(engine, present))
