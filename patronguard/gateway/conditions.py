"""A small declarative condition language, compiled once at policy load.

A condition is one of::

    {field: evidence.barcode, equals: full}
    {field: requester.role, in: [patron, guardian]}
    {field: evidence.written_authorization, present: true}
    {field: requester.is_subject, is_true: true}
    {all: [<condition>, ...]}   {any: [<condition>, ...]}   {not: <condition>}

``field`` names a fact of :data:`patronguard.gateway.vocabulary.FACTS`; values are
checked against that fact's closed set, so a typo is a policy error, not a rule
that silently never matches. No expression is ever evaluated (no ``eval``).
"""
from __future__ import annotations

from typing import Callable, Union

from pydantic import ConfigDict, Field, model_validator

from .request import _Strict
from .vocabulary import FACTS

Scalar = Union[bool, int, str]
Facts = dict[str, object]


class Condition(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str | None = Field(default=None, examples=["evidence.barcode"])
    equals: Scalar | None = Field(default=None, examples=["full"])
    in_: list[Scalar] | None = Field(default=None, alias="in", examples=[["patron", "guardian"]])
    present: bool | None = None
    is_true: bool | None = None
    all_: list["Condition"] | None = Field(default=None, alias="all")
    any_: list["Condition"] | None = Field(default=None, alias="any")
    not_: "Condition | None" = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> "Condition":
        tests = [k for k in ("equals", "in_", "present", "is_true") if getattr(self, k) is not None]
        groups = [k for k in ("all_", "any_", "not_") if getattr(self, k) is not None]
        if self.field is not None:
            if groups or len(tests) != 1:
                raise ValueError("a field condition takes exactly one of equals, in, present, is_true "
                                 "(e.g. {field: evidence.barcode, equals: full})")
            if self.field not in FACTS:
                raise ValueError(f"unknown fact {self.field!r}; expected one of: {', '.join(FACTS)}")
            allowed = FACTS[self.field]
            values = [self.equals] if self.equals is not None else (self.in_ or [])
            for value in values:
                if value not in allowed or type(value) is not type(allowed[0]):
                    raise ValueError(f"{self.field} is never {value!r}; its values are: "
                                     f"{', '.join(map(str, allowed))}")
            if self.in_ is not None and not self.in_:
                raise ValueError("in: needs at least one value")
        elif tests or len(groups) != 1:
            raise ValueError("a condition is {field: …, equals|in|present|is_true: …} or one of all, any, not")
        elif self.all_ is not None and not self.all_ or self.any_ is not None and not self.any_:
            raise ValueError("all/any need at least one condition")
        return self

    def describe(self, nested: bool = False) -> str:
        """Human-readable form, used in explanations (groups inside groups get brackets)."""
        if self.field is not None:
            if self.equals is not None:
                return f"{self.field} is {self.equals}"
            if self.in_ is not None:
                return f"{self.field} is one of {', '.join(map(str, self.in_))}"
            if self.present is not None:
                return f"{self.field} is {'present' if self.present else 'absent'}"
            return f"{self.field} is {'true' if self.is_true else 'false'}"
        if self.all_ is not None:
            text = " and ".join(c.describe(True) for c in self.all_)
        elif self.any_ is not None:
            text = " or ".join(c.describe(True) for c in self.any_)
        else:
            return f"not ({self.not_.describe()})"
        return f"({text})" if nested else text

    def fields_tested(self) -> set[str]:
        if self.field is not None:
            return {self.field}
        out: set[str] = set()
        for child in (self.all_ or []) + (self.any_ or []) + ([self.not_] if self.not_ else []):
            out |= child.fields_tested()
        return out

    def allowed_values(self, fact: str) -> frozenset | None:
        """If this is a conjunction pinning ``fact`` to a set of values, that set (for indexing)."""
        if self.field == fact:
            if self.equals is not None:
                return frozenset([self.equals])
            if self.in_ is not None:
                return frozenset(self.in_)
        if self.all_ is not None:
            for child in self.all_:
                found = child.allowed_values(fact)
                if found is not None:
                    return found
        return None


Test = Callable[[Facts], bool]


def compile_condition(cond: Condition) -> Test:
    """Turn a condition into a plain function of the facts (closures, no eval)."""
    if cond.field is not None:
        key = cond.field
        if cond.equals is not None:
            want = cond.equals
            return lambda f: f[key] == want
        if cond.in_ is not None:
            wanted = frozenset(cond.in_)
            return lambda f: f[key] in wanted
        if cond.present is not None:
            expect = cond.present
            return lambda f: (f[key] not in (None, False, "none")) is expect
        expect = cond.is_true
        return lambda f: (f[key] is True) is expect
    if cond.all_ is not None:
        parts = tuple(compile_condition(c) for c in cond.all_)
        if len(parts) == 2:
            a, b = parts
            return lambda f: a(f) and b(f)
        return lambda f: all(p(f) for p in parts)
    if cond.any_ is not None:
        parts = tuple(compile_condition(c) for c in cond.any_)
        return lambda f: any(p(f) for p in parts)
    inner = compile_condition(cond.not_)
    return lambda f: not inner(f)


def why_not(cond: Condition, facts: Facts) -> str:
    """The first part of ``cond`` that ``facts`` fail, said plainly (no patron values: facts hold none)."""
    if cond.field is not None:
        return f"needs {cond.describe()}, but {cond.field} is {facts[cond.field]}"
    if cond.all_ is not None:
        for child in cond.all_:
            if not compile_condition(child)(facts):
                return why_not(child, facts)
    if cond.any_ is not None:
        return "needs one of: " + "; ".join(c.describe() for c in cond.any_) + " (none holds)"
    if cond.not_ is not None:
        return f"needs not ({cond.not_.describe()}), but it holds"
    return "condition not met"
