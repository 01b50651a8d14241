"""patronguard: keep a library's promise of patron confidentiality, every night, provably.

The core is plain Python (no Prefect import): the PII map of the ILS, the
policy as data, the store, the exposure report, the retention run with its
ledger and warehouse, verification, and the source validation.
"""
from .db import connect, masked, parse_url
from .errors import (
    DatabaseUnavailableError, DatabaseUrlError, IlsAlreadyInitialisedError, InputError, NotKohaShapedError,
    PatronguardError, PiiMapError, PolicyError, TerminalError, TransientError, ValidationFailedError, is_transient,
)
from .ils.piimap import PiiMap, builtin_pii_map, load_pii_map
from .ils.shape import IlsShape, inspect_ils
from .policy import LoadedPolicy, Policy, load_policy
from .audit import append_event, verify_chain
from .retention import ExposureReport, build_exposure_report, exposure_report, render_text
from .retention.run import RetentionRun, run_retention, verify_only
from .retention.verify import Verification, VerificationFailedError
from .store import Store, open_store, opened_store

__version__ = "0.1.0"

__all__ = [
    "DatabaseUnavailableError", "DatabaseUrlError", "ExposureReport", "IlsAlreadyInitialisedError", "IlsShape",
    "InputError", "LoadedPolicy", "NotKohaShapedError", "PatronguardError", "PiiMap", "PiiMapError", "Policy",
    "PolicyError", "Store", "TerminalError", "TransientError", "ValidationFailedError", "build_exposure_report",
    "builtin_pii_map", "connect", "exposure_report", "inspect_ils", "is_transient", "load_pii_map",
    "load_policy", "masked", "open_store", "opened_store", "parse_url", "render_text",
    "RetentionRun", "Verification", "VerificationFailedError", "append_event", "run_retention", "verify_chain",
    "verify_only",
]
