"""The access gateway: every access to patron data is a request decided under the
library's policy, with the clauses applied and an explanation.

Rules are data (``access:`` in ``policy/<library>.yaml``); this package holds the
request model, the condition language, the rule model, the combining algorithm
(strictest wins), ``decide()`` and rendering.
"""
from .combine import OUTCOMES, SEVERITY, combine
from .conditions import Condition, compile_condition
from .decide import Verifier, decide, request_facts
from .decision import Decision, ExplanationEntry, Obligation
from .render import render_json, render_text
from .request import (
    AccessRequest, Binding, Evidence, Requester, Subject, canonical_request, load_request, parse_request, request_sha256,
)
from .rules import AccessPolicy, AccessRule, Branch, ObligationSpec
from .vocabulary import ACTIONS, CHANNELS, DATA_ACTIONS, FACTS, RECORD_FIELDS, ROLES, SUBJECT_ACTIONS

__all__ = [
    "ACTIONS", "AccessPolicy", "AccessRequest", "AccessRule", "Binding", "Branch", "CHANNELS", "Condition", "DATA_ACTIONS",
    "Decision", "Evidence", "ExplanationEntry", "FACTS", "OUTCOMES", "Obligation", "ObligationSpec",
    "RECORD_FIELDS", "ROLES", "Requester", "SEVERITY", "SUBJECT_ACTIONS", "Subject", "Verifier",
    "canonical_request", "combine", "compile_condition", "decide", "load_request", "parse_request",
    "render_json", "render_text", "request_facts", "request_sha256",
]
