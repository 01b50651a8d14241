"""Great Expectations suites that guard the ILS before anything reads or changes it (and after a run changed it)."""
from .after import (
    AFTER_SUITE, after_parameters, after_suite_conflicts, after_suite_documents, conflict_message, table_actions,
)
from .suites import (
    EXPECTATIONS_DIR, ExpectationOutcome, SuiteFileError, ValidationSummary,
    load_suite_documents, require_valid, validate_ils,
)

__all__ = [
    "AFTER_SUITE", "EXPECTATIONS_DIR", "ExpectationOutcome", "SuiteFileError", "ValidationSummary",
    "after_parameters", "after_suite_conflicts", "after_suite_documents", "conflict_message",
    "load_suite_documents", "require_valid", "table_actions", "validate_ils",
]
