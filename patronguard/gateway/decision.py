"""What the gateway answers: the decision, its obligations, and its explanation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True, slots=True)
class Obligation:
    code: str
    text: str
    due_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "due_days": self.due_days}


class ExplanationEntry:
    """How one rule (or the written authorization) bore on the decision.

    ``status`` is ``not_applicable`` (its target did not match), ``met`` (target and
    requirements matched: its ``then`` branch), ``not_met`` (target matched, a
    requirement failed: its ``otherwise`` branch) or ``note``. ``why`` is worked
    out only when read, so deciding stays fast.
    """

    __slots__ = ("rule", "cites", "status", "effect", "_why", "_lazy")

    def __init__(self, rule: str, cites: tuple[str, ...], status: str, effect: str | None,
                 why: str | None = None, lazy: Callable[[], str] | None = None) -> None:
        self.rule, self.cites, self.status, self.effect = rule, cites, status, effect
        self._why, self._lazy = why, lazy

    @property
    def why(self) -> str:
        if self._why is None:
            self._why = self._lazy() if self._lazy else ""
        return self._why

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "clauses": list(self.cites), "status": self.status,
                "effect": self.effect, "why": self.why}

    def __repr__(self) -> str:
        return f"ExplanationEntry({self.rule!r}, {self.status!r}, {self.effect!r})"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str                      # allow | allow_limited | deny | refer | pending
    fields: list[str]
    clauses: list[str]                # citations, e.g. "Westport §4"
    obligations: list[Obligation]
    reason: str                       # one sentence, to be read aloud
    deciding_rule: str | None         # the rule whose reason is given (None: the default)
    policy_library: str
    policy_version: str
    policy_sha256: str
    request_sha256: str
    action: str
    request_id: str | None
    explanation: list[ExplanationEntry] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.outcome in ("allow", "allow_limited")

    def applied(self) -> list[ExplanationEntry]:
        """The entries of rules whose target matched the request."""
        return [e for e in self.explanation if e.status in ("met", "not_met")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "fields": list(self.fields), "clauses": list(self.clauses),
            "obligations": [o.to_dict() for o in self.obligations], "reason": self.reason,
            "deciding_rule": self.deciding_rule, "action": self.action, "request_id": self.request_id,
            "policy": {"library": self.policy_library, "version": self.policy_version, "sha256": self.policy_sha256},
            "request_sha256": self.request_sha256,
            "explanation": [e.to_dict() for e in self.explanation],
        }
