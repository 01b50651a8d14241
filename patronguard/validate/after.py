"""The after-run suite (``expectations/ils_after/``) follows the policy.

What a retention run may do to a table's row count is the policy's to say:
a table the policy strips keeps every row; a table it deletes from (or whose
expired patrons it removes) loses exactly the rows the run deleted. So a
row-count expectation marked ``"follows_policy": true`` in its ``meta``
compares with the parameter ``rows_expected_<table>`` — the rows before the
run, less the rows the run deleted where the policy deletes, and no fewer
where it does not — and takes its ``why`` from the policy
(:func:`after_suite_documents`, :func:`after_parameters`).

Any *other* expectation that the policy would make fail is a conflict,
found before the first write by ``patronguard policy check`` and by the
run's plan (:func:`after_suite_conflicts`):

* a row count pinned to ``rows_before_<table>`` (unchanged) on a table the
  policy deletes from;
* ``expect_column_values_to_not_be_null`` on a patron link the policy strips
  to NULL (``anonymous_patron: null``, or Koha's ``AnonymousPatron`` unset).
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..ils.piimap import PiiMap
from ..policy.models import Policy
from .suites import SuiteFileError, load_suite_documents

AFTER_SUITE = "ils_after"
ROW_COUNT = ("expect_table_row_count_to_equal", "expect_table_row_count_to_be_between")
DELETING = ("delete", "aggregate_then_delete", "anonymise_then_delete")
STRIPPING = ("strip", "aggregate_then_strip")


def table_actions(policy: Policy, pii_map: PiiMap) -> dict[str, str]:
    """Table → what the run does to it under ``policy`` (``RetentionRule.action_for``); the child tables of
    a table the policy deletes from lose rows with their parents (``delete``)."""
    out = {name: policy.rule_for(t.records).action_for(t) for name, t in pii_map.scheduled_tables().items()}

    def children(parent: str) -> None:
        for child in pii_map.children_of(parent):
            if child not in out:
                out[child] = "delete"
                children(child)

    for name, action in list(out.items()):
        if action in DELETING:
            children(name)
    return out


def _why(table: str, action: str | None, records: str | None) -> str:
    if action in DELETING:
        return (f"the policy deletes rows past their cutoff ({records or table}: {action.replace('_', ' ')}): "
                "the table lost exactly the rows the run deleted, no others")
    if action in STRIPPING:
        return "stripping never deletes rows of this table"
    return "a retention run never deletes rows of this table"


def _params_in(kwargs: dict) -> list[str]:
    return [v["$PARAMETER"] for v in kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v]


def after_suite_documents(policy: Policy, pii_map: PiiMap, directory: Path | None = None) -> dict[str, dict]:
    """The after-run suite as ``policy`` makes it: table → suite document, ``follows_policy`` row counts set."""
    actions = table_actions(policy, pii_map)
    docs = copy.deepcopy(load_suite_documents(AFTER_SUITE, directory))
    for table, doc in docs.items():
        for exp in doc["expectations"]:
            meta = exp.get("meta") or {}
            if not meta.get("follows_policy"):
                continue
            if exp.get("type") != "expect_table_row_count_to_equal":
                raise SuiteFileError(f"expectation suite {AFTER_SUITE}/{table}.json: only "
                                     "expect_table_row_count_to_equal can follow the policy, not "
                                     f"{exp.get('type')}")
            records = pii_map.tables[table].records if table in pii_map.tables else None
            exp["kwargs"] = {**exp.get("kwargs", {}), "value": {"$PARAMETER": f"rows_expected_{table}"}}
            exp["meta"] = {**meta, "why": _why(table, actions.get(table), records)}
    return docs


def after_parameters(policy: Policy, pii_map: PiiMap, before: dict[str, int],
                     deleted: dict[str, int]) -> dict[str, int]:
    """``before`` (``rows_before_<table>`` → rows, see ``retention.run.rows_before``) plus
    ``rows_expected_<table>``: fewer by the rows the run deleted (``deleted``: table → rows) where the
    policy deletes, the same where it does not."""
    actions = table_actions(policy, pii_map)
    out = dict(before)
    for name, rows in before.items():
        table = name.removeprefix("rows_before_")
        gone = deleted.get(table, 0) if actions.get(table) in DELETING else 0
        out[f"rows_expected_{table}"] = rows - gone
    return out


def after_suite_conflicts(policy: Policy, pii_map: PiiMap, *, anonymous_is_null: bool | None = None,
                          directory: Path | None = None) -> list[str]:
    """Expectations of the after-run suite that running ``policy`` would make fail, one line each.

    ``anonymous_is_null``: whether a stripped link becomes NULL (default: the policy's
    ``anonymous_patron: null``; the plan knows whether Koha's ``AnonymousPatron`` is set)."""
    if anonymous_is_null is None:
        anonymous_is_null = policy.retention.anonymous_patron == "null"
    actions = table_actions(policy, pii_map)
    found = []
    for table, doc in load_suite_documents(AFTER_SUITE, directory).items():
        action = actions.get(table)
        table_map = pii_map.tables.get(table)
        if action is None or table_map is None:
            continue
        what = f"{table_map.records or table}: {action.replace('_', ' ')}"
        for exp in doc["expectations"]:
            meta, kwargs = exp.get("meta") or {}, exp.get("kwargs") or {}
            why = f" ({meta['why']})" if meta.get("why") else ""
            where = f"expectations/{AFTER_SUITE}/{table}.json: {exp.get('type')}{why}"
            if meta.get("follows_policy"):
                continue
            if (action in DELETING and exp.get("type") in ROW_COUNT
                    and f"rows_before_{table}" in _params_in(kwargs)):
                found.append(f"{what} deletes rows of {table}, but {where} expects its row count unchanged")
            elif (action in STRIPPING and anonymous_is_null and table_map.link is not None
                  and exp.get("type") == "expect_column_values_to_not_be_null"
                  and kwargs.get("column") == table_map.link):
                found.append(f"{what} sets {table}.{table_map.link} to NULL, but {where} expects it not null")
    return found


def conflict_message(source: str, conflicts: list[str]) -> str:
    more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
    return (f"{source}: the after-run suite would fail: {conflicts[0]}{more}; change the expectation (a row "
            "count can be marked \"follows_policy\": true in its meta) or the policy")
