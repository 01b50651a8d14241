"""Benchmark: the access gateway and the audit log, in one run (issue 4's three figures).

1. decisions per second on one core (target ≥ 20,000), against the cost of
   validating the same requests (``gateway_decisions.py``);
2. audit appends per second, against a bare sqlite3 insert (``gateway_audit.py``);
3. time to verify an audit log of 1,000,000 entries (target ≤ 10 s), against a
   bare read plus one SHA-256 per entry.

    .venv/bin/python benchmarks/gateway.py [--seconds 3] [--appends 2000] [--entries 1000000]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway_audit  # noqa: E402
import gateway_decisions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--seconds", str(args.seconds)]
    gateway_decisions.main()
    gateway_audit.main(["--appends", str(args.appends), "--entries", str(args.entries)])


if __name__ == "__main__":
    main()
