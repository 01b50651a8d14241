"""Load a policy file and check it against the ILS's PII map."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..datafiles import load_model
from ..errors import PolicyError
from ..ils.piimap import PiiMap, builtin_pii_map
from .models import Policy


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with where it came from and its content hash."""

    policy: Policy
    path: str
    sha256: str

    @property
    def version(self) -> str:
        return self.policy.policy.version

    @property
    def library(self) -> str:
        return self.policy.policy.library


def check_against_pii_map(policy: Policy, pii_map: PiiMap, source: str) -> None:
    """Every record class is scheduled once, with an action the class admits."""
    classes = pii_map.record_classes
    for i, rule in enumerate(policy.retention.schedule):
        where = f"{source}: retention.schedule[{i}]"
        if rule.records not in classes:
            raise PolicyError(
                f"{where}.records: unknown record class {rule.records!r}; expected one of: {', '.join(classes)}"
            )
        allowed = classes[rule.records].actions
        if rule.action not in allowed:
            raise PolicyError(
                f"{where}.action: {rule.action!r} is not possible for {rule.records}; expected one of: {', '.join(allowed)}"
            )
        if rule.keep_statistics is not None:
            tables = pii_map.tables_by_record_class().get(rule.records, [])
            if not any(pii_map.tables[t].aggregate is not None for t in tables):
                raise PolicyError(
                    f"{where}.keep_statistics: records {rule.records} have no statistics to keep (the PII map "
                    f"aggregates none of their tables: {', '.join(tables)}); remove the field"
                )
    scheduled = {r.records for r in policy.retention.schedule}
    for records, tables in pii_map.tables_by_record_class().items():
        if records not in scheduled:
            raise PolicyError(
                f"{source}: retention.schedule: no rule for records {records!r} "
                f"(tables {', '.join(tables)}); every record class must have a retention period"
            )


def check_against_after_suite(loaded: LoadedPolicy, pii_map: PiiMap | None = None) -> None:
    """PolicyError (one line) if running this policy would make the after-run expectation suite fail
    (``expectations/ils_after/``, see :mod:`patronguard.validate.after`)."""
    from ..validate.after import after_suite_conflicts, conflict_message

    conflicts = after_suite_conflicts(loaded.policy, pii_map or builtin_pii_map("koha"))
    if conflicts:
        raise PolicyError(conflict_message(loaded.path, conflicts))


def load_policy(path: str | Path, pii_map: PiiMap | None = None) -> LoadedPolicy:
    """Load, type-check and cross-check a policy file. Never falls back to a default."""
    policy, digest = load_model(path, Policy, PolicyError)
    check_against_pii_map(policy, pii_map or builtin_pii_map("koha"), str(path))
    return LoadedPolicy(policy=policy, path=str(path), sha256=digest)
