"""Combining the rules that apply to one request: *strictest wins*.

Outcomes are ordered from most to least permissive::

    allow < allow_limited < pending < refer < deny

Every rule whose target matches contributes the outcome of the branch it took;
the decision is the **strictest** of them (deny-overrides generalised to five
outcomes), and the fields given are what the request asked for, cut down by
every applying rule that caps them. No rule applies → the policy's default
(deny).

Why not first-applicable: both policies are written as *cumulative*
constraints — on a phone call Westchester §3 (who may be told) and §4 (what may
be said on the phone) both bind; a police request at Westport meets §4 *and*
Conn. Gen. Stat. §11-25(b). Under first-applicable the answer would depend on
rule order and a permissive rule could shadow a restrictive one. Here order
only chooses whose *reason* is read aloud: the first rule, in file order, whose
outcome is the decision's (or, if fields were cut, the first rule that cut them).
"""
from __future__ import annotations

from dataclasses import dataclass

from .rules import RELEASES, AccessRule, Branch

SEVERITY = {"allow": 0, "allow_limited": 1, "pending": 2, "refer": 3, "deny": 4}
OUTCOMES = tuple(SEVERITY)


@dataclass(frozen=True, slots=True)
class Combined:
    outcome: str
    fields: tuple[str, ...]
    reason: str
    deciding: AccessRule | None
    branches: tuple[tuple[AccessRule, Branch], ...]   # the applying rules and the branch each took


def combine(requested: tuple[str, ...], applying: list[tuple[AccessRule, Branch]], default: Branch) -> Combined:
    if not applying:
        return Combined("deny", (), default.reason, None, ())
    worst = max(applying, key=lambda rb: SEVERITY[rb[1].outcome])[1].outcome
    if worst not in RELEASES:
        rule, branch = next(rb for rb in applying if rb[1].outcome == worst)
        return Combined(worst, (), branch.reason, rule, tuple(applying))
    fields = requested
    limiter: tuple[AccessRule, Branch] | None = None
    for rule, branch in applying:
        if branch.fields is not None:
            kept = tuple(f for f in fields if f in branch.fields)
            if kept != fields and limiter is None:
                limiter = (rule, branch)
            fields = kept
    if requested and not fields:
        rule, branch = limiter  # something cut every field, so there is a limiter
        return Combined("deny", (), branch.reason, rule, tuple(applying))
    outcome = "allow_limited" if (worst == "allow_limited" or fields != requested) else "allow"
    if limiter is not None:
        rule, branch = limiter
    else:
        rule, branch = next(rb for rb in applying if rb[1].outcome == worst)
    return Combined(outcome, fields, branch.reason, rule, tuple(applying))
