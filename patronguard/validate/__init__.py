"""Great Expectations suites that guard the ILS before anything reads or changes it."""
from .suites import (
    EXPECTATIONS_DIR, ExpectationOutcome, SuiteFileError, ValidationSummary,
    load_suite_documents, require_valid, validate_ils,
)

__all__ = [
    "EXPECTATIONS_DIR", "ExpectationOutcome", "SuiteFileError", "ValidationSummary",
    "load_suite_documents", "require_valid", "validate_ils",
]
