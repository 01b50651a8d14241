"""Benchmark: one request about 100,000 patrons, decided for the set (target: under a second), against
deciding it patron by patron (one single-patron request each) in the same run.

The request is a consent-based data share (Westchester §5) handled by the Director with a verified
signature; patrons differ by legal hold (1 in 97) and consent on record (1 in 3), so the decision has
groups. Timed: reading the request (100,000 ids, validated) + :func:`decide_bulk`; the baseline times
:func:`decide` on each patron's single request (built beforehand, not timed) for a sample and scales
it to the whole set. Both sides' answers are compared patron by patron on the sample.

    .venv/bin/python benchmarks/bulk_decide.py [--patrons 100000] [--sample 5000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from patronguard.gateway import PatronFacts, decide, decide_bulk, parse_request, request_sha256, single_request_for
from patronguard.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]


def verifier(bulk_sha: str):
    """Stands for the Ed25519 check (measured in gateway.py): valid for the bulk request's hash."""
    return lambda authorization, sha, now: (True, "benchmark", "director")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    loaded = load_policy(ROOT / "policy/westchester.yaml")
    ids = list(range(1, args.patrons + 1))
    document = {"request_id": "bench-share", "action": "disclose_records",
                "requester": {"role": "staff", "id": "staff-17"}, "handled_by": "director",
                "subjects": {"borrowernumbers": ids}, "recipient": {"id": "vendor", "role": "third_party"},
                "channel": "written", "fields": ["identity", "loan_history"],
                "evidence": {"consent": "per_patron", "written_authorization": {"signature": "x"}}}
    text = json.dumps(document)
    facts = {n: PatronFacts(legal_hold=n % 97 == 0, consent="signed_written" if n % 3 == 0 else "none")
             for n in ids if n % 97 == 0 or n % 3 == 0}

    best_bulk = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        request = parse_request(json.loads(text))
        bulk = decide_bulk(request, loaded, facts, verify_authorization=verifier(request_sha256(request)))
        best_bulk = min(best_bulk, time.perf_counter() - start)

    sample = ids[:: max(1, len(ids) // args.sample)][: args.sample]
    singles = [(n, single_request_for(request, n, facts.get(n, PatronFacts()))) for n in sample]
    best_single = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        answers = {n: decide(r, loaded, legal_hold=facts.get(n, PatronFacts()).legal_hold,
                             verify_authorization=verifier("")) for n, r in singles}
        best_single = min(best_single, time.perf_counter() - start)
    per_patron = best_single / len(singles)
    by_patron = {n: g.decision for g in bulk.groups for n in g.patrons}
    mismatches = sum((by_patron[n].outcome, by_patron[n].fields) != (a.outcome, a.fields) for n, a in answers.items())

    print(f"patrons: {len(ids):,}; groups: {len(bulk.groups)}; released for {len(bulk.released):,}; "
          f"outcome {bulk.outcome}")
    print(f"bulk (read + validate + decide): {best_bulk:.3f} s  (target < 1 s)")
    print(f"patron by patron: {per_patron * 1e6:.1f} µs each → {per_patron * len(ids):.2f} s for the set "
          f"(measured on {len(singles):,})")
    print(f"ratio patron-by-patron / bulk: {per_patron * len(ids) / best_bulk:.1f}×; "
          f"answers that differ on the sample: {mismatches}")


if __name__ == "__main__":
    main()
