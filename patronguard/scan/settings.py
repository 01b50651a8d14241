"""What the scanner is told about one library: its card and item-barcode formats, its own public
contact details (never findings), the score threshold, the optional spaCy model, and which columns
are bibliographic or hold birth dates.

Read from YAML (``load_scan_settings``) with one-line errors naming the file and the field; the
packaged ``defaults/scan.yaml`` spells out the defaults below.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..datafiles import describe_validation_error, read_structured
from ..errors import InputError

#: the packaged defaults (identical to ``ScanSettings()``)
DEFAULT_SETTINGS_FILE = Path(__file__).parent / "defaults" / "scan.yaml"

Entity = Literal["LIBRARY_CARD", "KNOWN_PATRON", "DATE_OF_BIRTH", "US_STREET_ADDRESS", "PHONE_NUMBER",
                 "EMAIL_ADDRESS"]

#: one digit token of a card pattern: a digit, ``\d``, ``[0-9]``-style class, optionally ``{n}``
_DIGIT_TOKEN = re.compile(r"(\\d|\[[0-9\-]+\]|[0-9])(?:\{([0-9]+)\})?")


def separated_number_regex(compact_pattern: str) -> str:
    """The regex of a compact number pattern (``2\\d{13}``) written plain, spaced or dashed
    (``2 1234 5678 9012 3``, ``21234-5678-90123``): an optional space or dash between any two digits."""
    parts: list[str] = []
    position = 0
    for token in _DIGIT_TOKEN.finditer(compact_pattern):
        if token.start() != position:
            raise ValueError("only digits, \\d, [0-9] classes and {n} counts are supported")
        position = token.end()
        atom, count = token.group(1), int(token.group(2) or 1)
        if not parts:
            parts.append(atom)
            count -= 1
        if count:
            parts.append(f"(?:[ -]?{atom})" + (f"{{{count}}}" if count > 1 else ""))
    if position != len(compact_pattern) or not parts:
        raise ValueError("only digits, \\d, [0-9] classes and {n} counts are supported")
    return "".join(parts)


class ScanSettings(BaseModel):
    """The scanner's configuration for one library."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card_pattern: str = Field(default=r"2\d{13}", examples=[r"2\d{13}"],
                              description="regex of a card number, digits only (Koha Codabar: 2 + library + serial + Luhn)")
    card_luhn: bool = Field(default=True, examples=[True], description="card numbers end in a Luhn check digit")
    item_barcode_pattern: str = Field(default=r"3\d{13}", examples=[r"3\d{13}"],
                                      description="regex of an item barcode, digits only (never a card)")
    item_barcode_luhn: bool = Field(default=True, examples=[True])
    allow_list: tuple[str, ...] = Field(default=(), examples=[["(914) 555-0199", "info@library.org"]],
                                        description="the library's own public phones, emails, street addresses")
    threshold: float = Field(default=0.5, gt=0, le=1, examples=[0.5])
    nlp_model: str | None = Field(default=None, examples=["en_core_web_sm"],
                                  description="an installed spaCy package or a model path; never downloaded")
    bibliographic_columns: tuple[str, ...] = Field(
        default=(r"(?:^|[._!\s])(?:sub)?(?:title|author|authors|creator|contributor|subject|subjects|publisher|"
                 r"series|editor|illustrator|translator|uniform_?title)(?:_?name)?$",),
        examples=[[r"(?:^|_)(?:title|author)$"]], description="column names (regex, case-insensitive)")
    dob_columns: tuple[str, ...] = Field(
        default=(r"dob|birth|born",), examples=[[r"dob|birth"]],
        description="column names (regex, case-insensitive) whose dates are dates of birth")
    context_words: dict[Entity, tuple[str, ...]] = Field(
        default_factory=dict, examples=[{"KNOWN_PATRON": ["member"]}],
        description="extra context words per entity, added to the recognizers' own")

    @field_validator("card_pattern", "item_barcode_pattern")
    @classmethod
    def _number_pattern(cls, value: str) -> str:
        separated_number_regex(value)
        return value

    @field_validator("bibliographic_columns", "dob_columns")
    @classmethod
    def _regexes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regex ({exc})") from None
        return values

    def is_bibliographic(self, column: str) -> bool:
        return any(re.search(p, column, re.IGNORECASE) for p in self.bibliographic_columns)

    def is_dob_column(self, column: str) -> bool:
        return any(re.search(p, column, re.IGNORECASE) for p in self.dob_columns)


def load_scan_settings(path: str | Path) -> ScanSettings:
    """Read scan settings from a YAML or JSON file; InputError (one line, naming file and field) if bad."""
    path = Path(path)
    data, _raw = read_structured(path, InputError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of scan settings at the top level")
    try:
        return ScanSettings.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(str(path), exc, ScanSettings)) from None
