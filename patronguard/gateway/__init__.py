"""The access gateway: every access to patron data is a request decided under the
library's policy, with the clauses applied and an explanation.

Rules are data (``access:`` in ``policy/<library>.yaml``); this package holds the
request model, the condition language, the rule model, the combining algorithm
(strictest wins), ``decide()`` for one patron, ``decide_bulk()`` for a set of
patrons, and rendering.
"""
from .bulk import BulkDecision, BulkGroup, PatronFacts, decide_bulk, single_request_for
from .combine import OUTCOMES, SEVERITY, combine
from .conditions import Condition, compile_condition
from .decide import Verifier, decide, request_facts
from .decision import Decision, ExplanationEntry, Obligation
from .render import render_bulk_json, render_bulk_text, render_json, render_text
from .request import (
    AccessRequest, Binding, Evidence, Recipient, Requester, Subject, Subjects, canonical_request, load_request,
    parse_request, request_sha256,
)
from .rules import AccessPolicy, AccessRule, Branch, ObligationSpec
from .vocabulary import (
    ACTIONS, BULK_ACTIONS, CHANNELS, DATA_ACTIONS, FACTS, HANDLERS, RECORD_FIELDS, ROLES, SUBJECT_ACTIONS,
)

__all__ = [
    "ACTIONS", "AccessPolicy", "AccessRequest", "AccessRule", "BULK_ACTIONS", "Binding", "Branch", "BulkDecision",
    "BulkGroup", "CHANNELS", "Condition", "DATA_ACTIONS", "Decision", "Evidence", "ExplanationEntry", "FACTS",
    "HANDLERS", "OUTCOMES", "Obligation", "ObligationSpec", "PatronFacts", "RECORD_FIELDS", "ROLES", "Recipient",
    "Requester", "SEVERITY", "SUBJECT_ACTIONS", "Subject", "Subjects", "Verifier", "canonical_request", "combine",
    "compile_condition", "decide", "decide_bulk", "load_request", "parse_request", "render_bulk_json",
    "render_bulk_text", "render_json", "render_text", "request_facts", "request_sha256", "single_request_for",
]
