"""Read typed data files (YAML/JSON) into pydantic models, failing loudly.

Every error names the file, the field path (``retention[2].keep_days``) and
what was expected; nothing ever falls back to a default. Every file is read
within limits, whoever asks: a regular file (never a device, FIFO or
directory) of at most ``PATRONGUARD_MAX_INPUT_BYTES`` (5 MiB), nested at most
:data:`MAX_DEPTH` levels, at most :data:`MAX_NODES` values once YAML aliases
are expanded; a key given twice in one mapping is an error naming its line
(YAML and JSON alike), as are JSON ``NaN``/``Infinity`` and over-long numbers.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import json.decoder
import json.scanner
import math
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

from .errors import InputError, TerminalError

M = TypeVar("M", bound=BaseModel)

#: the days patronguard accepts anywhere (policy dates, --as-of, --until): a sane range, so
#: no date arithmetic can overflow and no typo like 0206-01-01 or 20266-01-01 gets through
MIN_DAY, MAX_DAY = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
_DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")   # ASCII digits only


def check_day(value: object, latest: dt.date = MAX_DAY) -> dt.date:
    """A calendar day given as ``YYYY-MM-DD`` (ASCII digits) or a date, within MIN_DAY…``latest``;
    ValueError saying what is wrong and what is expected otherwise."""
    expected = (f"expected YYYY-MM-DD between {MIN_DAY} and {latest}" if latest < dt.date.max
                else f"expected YYYY-MM-DD from {MIN_DAY} on") + ", e.g. 2026-01-31"
    if isinstance(value, str):
        if not _DAY_TEXT.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a date; {expected}")
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the calendar; {expected}") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValueError(f"{value!r} is not a date; {expected}")
    if not MIN_DAY <= value <= latest:
        raise ValueError(f"{value.isoformat()} is out of range; {expected}")
    return value


#: a pydantic field type for a day (see :func:`check_day`)
Day = Annotated[dt.date, BeforeValidator(check_day)]


def field_path(loc: tuple) -> str:
    """``('retention', 2, 'keep_days')`` → ``retention[2].keep_days``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _examples(model: type[BaseModel]) -> dict[str, list]:
    """Field name → examples declared on any model reachable from ``model``."""
    found: dict[str, list] = {}
    seen: set[type] = set()

    def visit(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name, info in m.model_fields.items():
            if info.examples:
                found.setdefault(info.alias or name, info.examples)
            for arg in _model_args(info.annotation):
                visit(arg)

    visit(model)
    return found


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    out = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        out.extend(_model_args(arg))
    return out


def describe_validation_error(source: str, exc: ValidationError, model: type[BaseModel]) -> str:
    """One line: the source, the first bad field path, the problem, the expected form."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not allowed here; check the spelling)"
    line = f"{source}: {field_path(loc)}: {msg}"
    names = [p for p in loc if isinstance(p, str)]
    examples = _examples(model).get(names[-1]) if names else None
    if examples and err["type"] != "extra_forbidden":
        line += f" (expected e.g. {examples[0]!r})"
    more = len(exc.errors()) - 1
    if more:
        line += f" [+{more} more problem{'s' if more > 1 else ''}]"
    return line


#: libyaml's safe loader where PyYAML was built with it (about 5× faster on the 600 kB release-line facts)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: the largest file read unless ``PATRONGUARD_MAX_INPUT_BYTES`` says otherwise
DEFAULT_MAX_INPUT_BYTES = 5 * 1024 * 1024
#: deepest nesting of mappings/lists accepted (the policies and the PII map need 9 at most)
MAX_DEPTH = 32
#: most values a YAML document may expand to through its aliases (the release-line facts: about 55,000)
MAX_NODES = 1_000_000
#: longest JSON integer accepted, in digits (the largest id is 2**63-1: 19 digits)
_MAX_INT_DIGITS = 20


class _Problem(Exception):
    """A file's content breaks a rule; ``where`` is ``(line, column)`` (1-based) when known."""

    def __init__(self, message: str, where: tuple[int, int] | None = None, note: str = "") -> None:
        super().__init__(message)
        self.message, self.where, self.note = message, where, note

    def describe(self) -> str:
        return self.message + (f" at line {self.where[0]}, column {self.where[1]}" if self.where else "") + self.note


# ----------------------------------------------------------------------------- YAML
class _StrictYamlLoader(_SAFE_LOADER):
    """The safe loader, refusing duplicate keys and documents too deep or too big once aliases expand."""

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _check_yaml_shape(node)
        return self.construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE:
                    continue  # `<<: *anchor` merges; explicit keys may override merged ones
                key = key_node.value if key_node.tag == _STR else self.construct_object(key_node, deep=True)
                try:
                    seen = first.get(key)
                except TypeError:
                    continue  # an unhashable key: the base constructor names it
                mark = key_node.start_mark
                if seen is not None:
                    raise _Problem(f"duplicate key {key!r}", (mark.line + 1, mark.column + 1),
                                   f" (first at line {seen.line + 1})")
                first[key] = mark
        return super().construct_mapping(node, deep=deep)


_MERGE, _STR = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:str"


def _check_yaml_shape(root) -> None:
    """Depth and expanded size of a composed YAML graph, each shared (aliased) node visited once."""
    scalar = yaml.ScalarNode
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if node.__class__ is scalar:
            continue
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else node.value
        if leaving:
            total, tallest = 1, 0
            for child in children:
                if child.__class__ is scalar:
                    total, tallest = total + 1, max(tallest, 1)
                else:
                    total, tallest = total + size[id(child)], max(tallest, height[id(child)])
            size[key], height[key] = total, tallest + 1
            where = (node.start_mark.line + 1, node.start_mark.column + 1)
            if tallest > MAX_DEPTH:
                raise _Problem(f"nested more than {MAX_DEPTH} levels deep", where)
            if total > MAX_NODES:
                raise _Problem(f"expands to more than {MAX_NODES:,} values (aliases)", where)
            continue
        if key in size:
            continue
        if key in height:  # entered and not left: an ancestor of itself
            raise _Problem("a recursive alias (a value that contains itself)",
                           (node.start_mark.line + 1, node.start_mark.column + 1))
        height[key] = 0
        stack.append((node, True))
        stack.extend((child, False) for child in children if child.__class__ is not scalar)


def _load_yaml(raw: bytes) -> Any:
    try:
        return yaml.load(raw, Loader=_StrictYamlLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (mark.line + 1, mark.column + 1) if mark is not None else None
        problem = getattr(exc, "problem", None) or ""
        if "nesting depth" in problem or "depth" in str(getattr(exc, "context", "") or ""):
            raise _Problem(f"nested more than {MAX_DEPTH} levels deep", where) from None
        raise _Problem("not valid YAML", where) from None


# ----------------------------------------------------------------------------- JSON
class _StrictJsonDecoder(json.JSONDecoder):
    """The standard decoder on its pure-Python scanner, so each object and array can be checked:
    duplicate keys (with the line of the second), nesting depth, NaN/Infinity, absurd numbers."""

    def __init__(self) -> None:
        super().__init__(parse_constant=self._constant, parse_int=self._int, parse_float=self._float)
        self.depth = 0
        self.parse_object = self._object
        self.parse_array = self._array
        self.memo: dict = {}
        self.scan_once = json.scanner.py_make_scanner(self)

    def _enter(self, text: str, index: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Problem(f"nested more than {MAX_DEPTH} levels deep", _line_col(text, index))

    def _object(self, text_and_end, strict, scan_once, object_hook, object_pairs_hook, memo):
        text, start = text_and_end
        self._enter(text, start - 1)
        value_at: list[int] = []

        def recording(string: str, index: int):
            value_at.append(index)
            return scan_once(string, index)

        pairs, end = json.decoder.JSONObject(text_and_end, strict, recording, None, list, memo)
        self.depth -= 1
        seen: set = set()
        for i, (key, _value) in enumerate(pairs):
            if key in seen:
                raise _Problem(f"duplicate key {key!r}", _line_col(text, value_at[i]))
            seen.add(key)
        return dict(pairs), end

    def _array(self, text_and_end, scan_once):
        text, start = text_and_end
        self._enter(text, start - 1)
        result = json.decoder.JSONArray(text_and_end, scan_once)
        self.depth -= 1
        return result

    @staticmethod
    def _constant(name: str):
        raise _Problem(f"{name} is not a JSON number")

    @staticmethod
    def _int(digits: str) -> int:
        if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
            raise _Problem(f"a number with more than {_MAX_INT_DIGITS} digits")
        return int(digits)

    @staticmethod
    def _float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise _Problem(f"the number {text[:30]} is out of range")
        return value


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _load_json(raw: bytes) -> Any:
    try:
        text = raw.decode(json.detect_encoding(raw))
    except (UnicodeDecodeError, LookupError):
        raise _Problem("not valid JSON (not UTF-8 text)") from None
    try:
        return _StrictJsonDecoder().decode(text)
    except json.JSONDecodeError as exc:
        raise _Problem("not valid JSON", (exc.lineno, exc.colno)) from None
    except RecursionError:
        raise _Problem(f"nested more than {MAX_DEPTH} levels deep") from None


# ----------------------------------------------------------------------------- files
def max_input_bytes() -> int:
    """The largest YAML/JSON file patronguard reads: ``PATRONGUARD_MAX_INPUT_BYTES`` (ASCII digits) or 5 MiB."""
    raw = os.environ.get("PATRONGUARD_MAX_INPUT_BYTES")
    if raw is None or raw == "":
        return DEFAULT_MAX_INPUT_BYTES
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1 << 40:
        raise InputError(f"PATRONGUARD_MAX_INPUT_BYTES: {raw[:40]!r} is not a number of bytes; "
                         f"expected ASCII digits, e.g. {DEFAULT_MAX_INPUT_BYTES}")
    return int(raw)


def read_limited(path: Path, error: type[TerminalError], limit: int | None = None) -> bytes:
    """A regular file's bytes, refusing anything larger than ``limit`` (default
    ``PATRONGUARD_MAX_INPUT_BYTES``) without reading past it; a device, FIFO or
    directory is refused before it is opened (``/dev/zero`` never ends)."""
    limit = max_input_bytes() if limit is None else limit
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise error(f"{path}: larger than the limit of {limit:,} bytes "
                    "(PATRONGUARD_MAX_INPUT_BYTES); refusing to read it")
    return raw


def parse_structured(raw: bytes, source: str, error: type[TerminalError], *, as_json: bool) -> Any:
    """Parse YAML or JSON bytes strictly: duplicate keys, over-deep nesting, alias bombs,
    NaN/Infinity and over-long numbers are errors naming ``source`` and the line."""
    try:
        data = _load_json(raw) if as_json else _load_yaml(raw)
    except _Problem as problem:
        raise error(f"{source}: {problem.describe()}") from None
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def read_json_object(path: str | Path, option: str) -> dict:
    """A JSON object from a file named by a command-line option or a flow parameter (an authorization,
    an appointment, a request), under the same limits as every other file read; ``InputError`` naming
    ``option`` and the file otherwise."""
    class _OptionError(InputError):
        def __init__(self, message: str):
            super().__init__(f"{option}: {message}")

    data = parse_structured(read_limited(Path(path), _OptionError), str(path), _OptionError, as_json=True)
    if not isinstance(data, dict):
        raise InputError(f"{option}: {path}: expected a JSON object")
    return data


def read_structured(path: Path, error: type[TerminalError]) -> tuple[Any, bytes]:
    """Read and parse a YAML or JSON file (``.json``: JSON); return (data, raw bytes)."""
    raw = read_limited(path, error)
    return parse_structured(raw, str(path), error, as_json=path.suffix == ".json"), raw


def load_model(path: str | Path, model: type[M], error: type[TerminalError]) -> tuple[M, str]:
    """Load ``path`` into ``model``; return (instance, sha256 of the file)."""
    path = Path(path)
    data, raw = read_structured(path, error)
    try:
        instance = model.model_validate(data)
    except ValidationError as exc:
        raise error(describe_validation_error(str(path), exc, model)) from None
    return instance, hashlib.sha256(raw).hexdigest()
