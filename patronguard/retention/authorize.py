"""The nightly run asks the gateway first, like every flow that touches patron data.

Its request is always the same: the Director's standing decision (the adopted
schedule, Westchester §2 / Westport §3) applied by the nightly schedule. A
policy whose rules do not allow it stops the run before anything is read.
"""
from __future__ import annotations

from ..errors import PolicyError
from ..gateway import AccessRequest, Decision, decide, parse_request
from ..policy import LoadedPolicy


def scheduled_run_request() -> AccessRequest:
    return parse_request({"request_id": "nightly-retention", "action": "scheduled_retention",
                          "requester": {"role": "director", "id": "adopted-schedule"}, "channel": "written"},
                         "scheduled run")


def authorize_scheduled_run(loaded: LoadedPolicy) -> Decision:
    return decide(scheduled_run_request(), loaded)


def require_scheduled_run_allowed(loaded: LoadedPolicy) -> Decision:
    decision = authorize_scheduled_run(loaded)
    if not decision.allowed:
        raise PolicyError(f"{loaded.path}: the gateway does not authorize the scheduled retention run: {decision.reason}")
    return decision
