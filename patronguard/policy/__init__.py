"""A library's policy as data: typed models and the loader."""
from .load import LoadedPolicy, check_against_after_suite, check_against_pii_map, load_policy
from .models import AGGREGATE_THEN_DELETE, Adoption, Clause, Policy, RetentionRule, RetentionSchedule

__all__ = [
    "AGGREGATE_THEN_DELETE", "Adoption", "Clause", "LoadedPolicy", "Policy", "RetentionRule", "RetentionSchedule",
    "check_against_after_suite", "check_against_pii_map", "load_policy",
]
