"""Aggregate then delete: history the policy deletes still leaves its statistics behind.

When a record class whose tables the PII map aggregates (loans, holds) is
scheduled for ``delete``, the rows are first counted into the statistics
warehouse — the same aggregation, in the same ILS transaction, as *aggregate
then strip* — then deleted, child rows first. Only ``keep_statistics: false``
on the policy's rule deletes them uncounted (``RetentionRule.action_for``).

Batches go through the ledger as ``aggregate_then_delete`` with the keys they
selected, so recovery after a kill does what it does for a strip: none of the
keys left means the ILS committed (complete the batch, add its counts to the
warehouse), all of them still identifying means it rolled back (abandon).

:func:`act_on_table` is the run's dispatcher: this for aggregate-then-delete,
``engine.apply_to_table`` for every other action. :func:`use_policy_actions`
tells the removal of expired patrons to aggregate their deleted history too.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import RunPlanError
from ..policy import LoadedPolicy
from ..policy.models import AGGREGATE_THEN_DELETE
from .asof import cutoff_for
from .batches import _check, aggregate_into, keyset_batches
from .children import delete_children
from .context import RunContext
from .ledger import Deltas
from .scope import RowScope


def policy_actions(ctx: RunContext, loaded: LoadedPolicy) -> dict[str, str]:
    """Table → what the run does to it (``aggregate_then_delete`` where a delete keeps statistics)."""
    return {name: loaded.policy.rule_for(t.records).action_for(t) for name, t in ctx.pii_map.scheduled_tables().items()}


def use_policy_actions(ctx: RunContext, loaded: LoadedPolicy) -> None:
    """Make the expired patrons' history go as the policy says, statistics included (``ctx.actions``)."""
    ctx.actions.update(policy_actions(ctx, loaded))


def delete_counted(conn: Connection, ctx: RunContext, scope: RowScope, where: sa.ColumnElement[bool],
                   deltas: Deltas, expected: int | None = None) -> int:
    """Aggregate the rows matching ``where`` into ``deltas``, delete their child rows, then the rows; return
    how many were deleted. With ``expected``, a different number aggregated or deleted stops the batch."""
    aggregated = aggregate_into(conn, ctx, scope, where, deltas)
    if expected is not None:
        _check(expected, aggregated, f"{scope.name} aggregation")
    deltas.count(scope.name, "aggregated", aggregated)
    delete_children(conn, ctx, scope.name, where, deltas)
    deleted = conn.execute(scope.table.delete().where(where)).rowcount
    _check(aggregated, deleted, f"{scope.name} delete")
    deltas.count(scope.name, "deleted", deleted)
    return deleted


def single_key(scope: RowScope) -> sa.Column:
    keys = scope.key_columns()
    if len(keys) != 1:
        raise RunPlanError(f"{scope.name}: the policy deletes its rows keeping statistics, which needs a one-column "
                           "key to page on; set keep_statistics: false or another action for its records")
    return keys[0]


def aggregate_then_delete(ctx: RunContext, name: str, cutoff: dt.date) -> Deltas:
    """Count the eligible rows of ``name`` into the warehouse and delete them, batch by batch."""
    scope = ctx.scope(name)
    return keyset_batches(
        ctx, name, single_key(scope), scope.eligible(cutoff), AGGREGATE_THEN_DELETE, "deleted",
        lambda conn, selected, keys, deltas: (delete_counted(conn, ctx, scope, selected, deltas, expected=len(keys)), 0))


def act_on_table(ctx: RunContext, loaded: LoadedPolicy, table: str, as_of: dt.date,
                 apply: Callable[..., Deltas]) -> Deltas:
    """Apply the policy's action for ``table``'s record class: aggregate then delete here, any other action
    through ``apply`` (``engine.apply_to_table``, passed in: the engine imports this module's floor)."""
    use_policy_actions(ctx, loaded)
    table_map = ctx.pii_map.tables[table]
    rule = loaded.policy.rule_for(table_map.records)
    if rule.action_for(table_map) == AGGREGATE_THEN_DELETE:
        ctx.as_of = as_of
        return aggregate_then_delete(ctx, table, cutoff_for(as_of, rule.keep_days))
    return apply(ctx, loaded, table, as_of)
