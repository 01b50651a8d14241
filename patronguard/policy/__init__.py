"""A library's policy as data: typed models and the loader."""
from .load import LoadedPolicy, check_against_pii_map, load_policy
from .models import Adoption, Clause, Policy, RetentionRule, RetentionSchedule

__all__ = [
    "Adoption", "Clause", "LoadedPolicy", "Policy", "RetentionRule", "RetentionSchedule",
    "check_against_pii_map", "load_policy",
]
