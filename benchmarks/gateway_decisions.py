"""Benchmark: access-gateway decisions per second on one core.

The mix is every documented example request (``examples/requests/*.json``,
both policies, every clause) plus the same requests carrying a written
authorization checked by a trivial injected verifier, so the verified paths
(Westchester §5/§6, Westport §4) are exercised too. Measured in one run:

1. ``decide()`` on already-validated requests (the rules were compiled when the
   policy was loaded), including the request hash and the explanation entries;
2. the **baseline**: validating the same requests' JSON into the pydantic
   ``AccessRequest`` model, which every request pays once anyway;
3. end to end: validate + decide.

Prints decisions/s and the ratio of ``decide()``'s cost to the baseline's.
Target: at least 20,000 decisions/s on one core.

    .venv/bin/python benchmarks/gateway_decisions.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patronguard.gateway import AccessRequest, decide, request_sha256  # noqa: E402
from patronguard.policy import load_policy  # noqa: E402

TARGET = 20_000


def _verify(authorization: dict, sha: str, now) -> tuple[bool, str, str | None]:
    ok = authorization.get("request_sha256") == sha
    return ok, "benchmark double", "director" if ok else None


def _mix() -> list[tuple[dict, object, object]]:
    policies = {name: load_policy(ROOT / f"policy/{name}.yaml") for name in ("westchester", "westport")}
    mix = []
    for path in sorted((ROOT / "examples/requests").glob("*.json")):
        data = json.loads(path.read_text())
        policy = policies["westport" if path.name.startswith("westport") else "westchester"]
        mix.append((data, policy, None))
        signed = json.loads(json.dumps(data))
        signed.setdefault("evidence", {})["written_authorization"] = {
            "request_sha256": request_sha256(AccessRequest.model_validate(data))}
        mix.append((signed, policy, _verify))
    return mix


def _rate(fn, items, seconds: float) -> float:
    """Calls per second of ``fn(item)`` cycling through ``items`` for about ``seconds``."""
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for item in items:
            fn(item)
        done += len(items)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def measure_decisions(seconds: float = 3.0) -> dict:
    """Decisions/s on one core for the example mix, and the ratio to the validation baseline."""
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one core
    except (AttributeError, OSError):
        pass
    mix = _mix()
    validated = [(AccessRequest.model_validate(data), policy, verify) for data, policy, verify in mix]
    for request, policy, verify in validated:                      # warm up
        decide(request, policy, verify_authorization=verify)
    gc.collect()
    decide_rate = _rate(lambda t: decide(t[0], t[1], verify_authorization=t[2]), validated, seconds)
    validate_rate = _rate(lambda t: AccessRequest.model_validate(t[0]), mix, seconds)
    e2e_rate = _rate(lambda t: decide(AccessRequest.model_validate(t[0]), t[1], verify_authorization=t[2]),
                     mix, seconds)
    outcomes: dict[str, int] = {}
    for request, policy, verify in validated:
        outcome = decide(request, policy, verify_authorization=verify).outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "requests_in_mix": len(mix),
        "outcomes_in_mix": outcomes,
        "decisions_per_s": round(decide_rate),
        "baseline": "pydantic validation of the same request JSON into AccessRequest",
        "baseline_per_s": round(validate_rate),
        "decide_cost_vs_baseline": round(validate_rate / decide_rate, 2),
        "validate_and_decide_per_s": round(e2e_rate),
        "target_per_s": TARGET,
        "meets_target": decide_rate >= TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    args = parser.parse_args()
    r = measure_decisions(args.seconds)
    print(f"mix: {r['requests_in_mix']} requests, outcomes {r['outcomes_in_mix']}")
    print(f"decide():              {r['decisions_per_s']:>9,} decisions/s on one core "
          f"(target ≥ {TARGET:,}: {'met' if r['meets_target'] else 'NOT met'})")
    print(f"baseline (validation): {r['baseline_per_s']:>9,} requests/s  ({r['baseline']})")
    print(f"ratio:                 a decision costs {r['decide_cost_vs_baseline']} × validating its request")
    print(f"validate + decide:     {r['validate_and_decide_per_s']:>9,} requests/s")


if __name__ == "__main__":
    main()
