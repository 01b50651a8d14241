"""Access rules as data: the ``access:`` section of a policy file, and its compiled form.

A rule has a *target* (``when``: which requests it speaks to) and optionally
*requirements* (``require``: the evidence its clause demands). A request the
target matches gets the ``then`` branch if the requirements hold, else the
``otherwise`` branch. Each branch names an outcome, at most which fields may be
given, obligations and a one-sentence reason. Rules are compiled once, when the
policy is loaded, into closures indexed by action.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .conditions import Condition, Test, compile_condition
from .request import _Strict
from .vocabulary import ACTIONS, RECORD_FIELDS, RecordField

Outcome = Literal["allow", "allow_limited", "deny", "refer", "pending"]
RELEASES = frozenset({"allow", "allow_limited"})


class ObligationSpec(_Strict):
    """Something someone must do because of the decision (e.g. consult counsel within 7 days)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", examples=["consult_counsel"])
    text: str = Field(min_length=1, examples=["Consult legal counsel about this emergency release."])
    due_days: int | None = Field(default=None, ge=0, le=3650, examples=[7])
    #: ``decision``: only if the decision's outcome is this branch's (the default);
    #: ``release``: only if something is released (e.g. billing);
    #: ``always``: whenever this branch is taken, even if a stricter rule decides (e.g. refer to the Director).
    applies: Literal["decision", "release", "always"] = Field(default="decision", examples=["always"])


class Branch(_Strict):
    outcome: Outcome = Field(examples=["allow_limited"])
    fields: list[RecordField] | None = Field(default=None, examples=[["item_count", "due_dates"]])
    obligations: list[ObligationSpec] = []
    reason: str = Field(min_length=1, max_length=400,
                        examples=["On the telephone we can give only the number of items and their due dates."])
    #: what the person deciding must also read when this branch is taken (e.g. the statute counsel weighs);
    #: it goes into the explanation, not the reason read aloud
    note: str | None = Field(default=None, min_length=1, max_length=600,
                             examples=["Conn. Gen. Stat. §11-25(b) names only a court order or written permission."])

    @field_validator("reason")
    @classmethod
    def _one_sentence(cls, value: str) -> str:
        body = value.strip()
        if not body.endswith((".", "!")) or re.search(r"[.!?]\s+[A-Z]", body):
            raise ValueError("a reason is one sentence a desk clerk can read aloud, ending with a full stop")
        return body

    @model_validator(mode="after")
    def _fields_only_when_releasing(self) -> "Branch":
        if self.fields is not None and self.outcome not in RELEASES:
            raise ValueError(f"fields: only an allow or allow_limited branch gives fields, not {self.outcome}")
        return self


class AccessRule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", examples=["westchester-4-telephone"])
    clauses: list[str] = Field(min_length=1, examples=[["westchester-4"]])
    description: str = Field(min_length=1)
    interpretation: str | None = Field(default=None, description="where the rule reads beyond the literal text, and why")
    stricter_than: list[str] = Field(default=[], description="clauses this rule reads more strictly than")
    when: Condition
    require: Condition | None = None
    then: Branch
    otherwise: Branch | None = None

    @model_validator(mode="after")
    def _otherwise_iff_require(self) -> "AccessRule":
        if (self.require is None) != (self.otherwise is None):
            raise ValueError("a rule with require needs an otherwise branch (and only such a rule has one)")
        return self


class AccessPolicy(_Strict):
    """The access section of a policy: field classification, rules, and the default."""

    combining: Literal["strictest_wins"] = Field(examples=["strictest_wins"])
    default: Branch
    records: dict[RecordField, list[str]]
    rules: list[AccessRule] = Field(min_length=1)
    #: clauses deliberately given no rule (e.g. a statement of purpose), each with why
    not_operative: dict[str, str] = {}
    _compiled: "CompiledAccess" = PrivateAttr()

    @model_validator(mode="after")
    def _check_and_compile(self) -> "AccessPolicy":
        if self.default.outcome != "deny":
            raise ValueError("default.outcome must be deny: what no rule permits is refused")
        missing = [f for f in RECORD_FIELDS if f not in self.records]
        if missing:
            raise ValueError(f"records: classify every field (missing: {', '.join(missing)})")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{i}].id: {rule.id!r} is used twice")
            seen.add(rule.id)
        self._compiled = compile_access(self)
        return self

    @property
    def compiled(self) -> "CompiledAccess":
        return self._compiled

    def cited_clauses(self) -> list[str]:
        out = [c for clauses in self.records.values() for c in clauses] + list(self.not_operative)
        for rule in self.rules:
            out.extend(rule.clauses)
            out.extend(rule.stricter_than)
        return out


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    rule: AccessRule
    target: Test
    require: Test | None
    actions: frozenset[str]          # the actions its target can match
    facts: frozenset[str]            # the facts its target and requirements test
    not_applicable: str              # explanation when the action is not one of those


@dataclass(frozen=True, slots=True)
class CompiledAccess:
    rules: tuple[CompiledRule, ...]
    by_action: dict[str, tuple[CompiledRule, ...]]
    record_clauses: dict[str, tuple[str, ...]]
    cites: dict[str, str]                    # clause id -> citation, bound by the enclosing Policy
    rule_cites: dict[str, tuple[str, ...]]   # rule id -> its citations

    def bind(self, citations: dict[str, str]) -> None:
        """Called by the enclosing Policy once its clauses are known (resolved at load, not per decision)."""
        self.cites.clear()
        self.cites.update(citations)
        self.rule_cites.clear()
        self.rule_cites.update({cr.rule.id: self.cite(cr.rule.clauses) for cr in self.rules})

    def cite(self, clause_ids) -> tuple[str, ...]:
        return tuple(self.cites[c] for c in clause_ids)


def compile_access(access: AccessPolicy) -> CompiledAccess:
    compiled = []
    for i, rule in enumerate(access.rules):
        actions = rule.when.allowed_values("action") or frozenset(ACTIONS)
        compiled.append(CompiledRule(
            index=i, rule=rule, target=compile_condition(rule.when),
            require=compile_condition(rule.require) if rule.require is not None else None,
            actions=frozenset(actions),
            facts=frozenset(rule.when.fields_tested() | (rule.require.fields_tested() if rule.require else set())),
            not_applicable=f"not applicable: speaks to {', '.join(sorted(actions))}",
        ))
    by_action = {a: tuple(r for r in compiled if a in r.actions) for a in ACTIONS}
    return CompiledAccess(rules=tuple(compiled), by_action=by_action,
                          record_clauses={f: tuple(c) for f, c in access.records.items()}, cites={}, rule_cites={})
