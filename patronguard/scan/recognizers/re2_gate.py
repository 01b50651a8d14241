"""A fast, vectorised gate in front of the pre-filter's regexes: each recognizer pattern rewritten for
RE2 (run over a whole column at once by pyarrow's ``match_substring_regex``) so that it matches
*at least* wherever the original can — never less. Values the gate rejects cannot match the
original pattern; values it lets through are checked with the original (Presidio's ``regex``).

RE2 has no lookarounds or back-references, and its ``\\w``/``\\s``/``\\d`` are ASCII, so the rewrite
only ever widens:

* ``(?<![…])`` becomes "start of text, or one character outside […]" with […] narrowed to ASCII
  (a smaller excluded set admits more), ``(?![…])`` likewise at the end; for ``(?!A|B)`` only the
  single-class alternatives are kept (excluding less admits more); any other lookaround is dropped;
* a back-reference matches anything; ``\\b`` is dropped;
* ``\\d``, ``\\w``, ``\\s`` outside lookarounds become their full Unicode sets, as Python reads them.

Anything else it does not know (atomic groups, possessive quantifiers, named back-references…) makes
:func:`widen_for_re2` return None: that pattern is run as it is. (Hand-written because no library
translates Python regexes to RE2.)
"""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

_DIGITS = r"\p{Nd}"
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\p{Z}"
_ASCII = {"w": "A-Za-z0-9_", "d": "0-9", "s": r" \t\n\r\f\x{0b}"}
_UNKNOWN = ("(?>", "(?P=", "(?|", "(?&", "(?R", "(?(", "\\G", "\\K", "\\X", "\\N", "*+", "++", "?+", "}+")


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class opening at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group opening at ``start``."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced group")


def _split_alternatives(body: str) -> list[str]:
    parts, depth, i, last = [], 0, 0, 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(body, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[last:i])
            last = i + 1
        i += 1
    parts.append(body[last:])
    return parts


def _narrow_class_body(alternative: str) -> str | None:
    """The contents of a single class or escape (``[\\w-]``, ``\\w``, ``-``), ASCII-narrowed, or None."""
    if alternative in ("\\w", "\\d", "\\s"):
        return _ASCII[alternative[1]]
    if len(alternative) == 1 and alternative not in "()[]|.^$*+?{}\\":
        return "\\" + alternative if alternative == "-" else alternative
    if alternative.startswith("[") and not alternative.startswith("[^") and _class_end(alternative, 0) == len(alternative):
        body, out, i = alternative[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                out.append(_ASCII.get(body[i + 1], body[i:i + 2]))
                i += 2
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    return None


def _boundary(body: str, behind: bool) -> str:
    kept = [c for c in (_narrow_class_body(a) for a in _split_alternatives(body)) if c is not None]
    if not kept:
        return ""
    excluded = "".join(kept)
    return f"(?:^|[^{excluded}])" if behind else f"(?:$|[^{excluded}])"


def _widen_class(cls: str) -> str:
    out, i = [], 0
    while i < len(cls):
        if cls[i] == "\\" and i + 1 < len(cls):
            letter = cls[i + 1]
            out.append({"d": _DIGITS, "w": _WORD, "s": _SPACE}.get(letter, cls[i:i + 2]))
            i += 2
        else:
            out.append(cls[i])
            i += 1
    return "".join(out)


def widen_for_re2(pattern: str) -> str | None:
    """``pattern`` rewritten for RE2 so that it matches wherever ``pattern`` can (see the module)."""
    if any(token in pattern for token in _UNKNOWN):
        return None
    out: list[str] = []
    i = 0
    try:
        while i < len(pattern):
            char = pattern[i]
            if char == "\\":
                letter = pattern[i + 1]
                if letter.isdigit() and letter != "0":
                    out.append(r"(?s:.*)")
                elif letter == "b":
                    pass
                elif letter in "dws":
                    out.append({"d": _DIGITS, "w": f"[{_WORD}]", "s": f"[{_SPACE}]"}[letter])
                elif letter in "DWSB":
                    return None
                else:
                    out.append(pattern[i:i + 2])
                i += 2
            elif char == "[":
                end = _class_end(pattern, i)
                out.append(_widen_class(pattern[i:end]))
                i = end
            elif pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
                end = _group_end(pattern, i)
                head = 4 if pattern[i + 2] == "<" else 3
                if pattern.startswith("(?<!", i) or pattern.startswith("(?!", i):
                    out.append(_boundary(pattern[i + head:end - 1], behind=pattern[i + 2] == "<"))
                i = end
            elif pattern.startswith("(?P<", i):
                out.append("(")
                i = pattern.index(">", i) + 1
            else:
                out.append(char)
                i += 1
    except (IndexError, ValueError):
        return None
    return "".join(out)


def gate(values: pa.Array, patterns: Sequence[str], ignore_case: bool) -> list[int]:
    """Positions of the values matching any of the (widened) patterns, in one vectorised pass."""
    union = "|".join(f"(?:{p})" for p in patterns)
    mask = pc.match_substring_regex(values, union, ignore_case=ignore_case)
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()
