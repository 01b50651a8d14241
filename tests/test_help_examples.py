"""Every "Example:" in the command line's help is run, as written, against a fresh home.

The examples are collected from the click command tree (the root group, every group and command), and run
in order — the ILS is created, the demo runs on it, keys are made before they sign, a request is submitted
before it is processed — each in a shell (``patronguard`` is the installed console script), with:

* ``PATRONGUARD_HOME`` a fresh temporary folder (nothing from the machine's own home or the test session's
  ``PATRONGUARD_VAR``), and no ``PREFECT_API_URL`` but the one an example sets itself;
* as working directory a temporary folder holding copies of the checkout's ``policy/`` and ``examples/``
  (what the examples name), so an example that writes into it does so only because it says so.

Placeholders of ids that only exist once an earlier example made them (``3f2c…`` a request id, ``holds
release 4``, ``obligations close 7``) are replaced by the real ones. Each example must exit 0, or with the
code :data:`EXPECTED` documents (with the reason). A new example must be placed in :data:`ORDER`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from patronguard.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: The order the examples run in, by command path ("" is the root group).
ORDER = [
    "ils init", "", "demo", "ils check", "policy check", "store migrate",
    "retention report", "retention run", "retention verify",
    "keys init", "keys pin", "keys sign", "keys delegate", "keys verify",
    "request", "request decide", "request submit", "request process", "request step", "request evidence",
    "request list", "request show",
    "holds list", "holds release", "obligations list", "obligations close",
    "purge", "scan", "share", "stats", "stats pls",
    "audit verify", "audit repin", "audit report",
]

#: example → (exit code, why). Everything else must exit 0.
EXPECTED = {
    "patronguard ils check --db mysql+pymysql://koha_ro:secret@db.example.org/koha_library":
        (3, "names a library's server that does not exist here: unreachable is a transient failure (exit 3)"),
    "patronguard store migrate --store postgresql+psycopg://patronguard@127.0.0.1/patronguard":
        (3, "needs a PostgreSQL role and database 'patronguard' this machine's server does not have"),
    "PREFECT_API_URL=http://127.0.0.1:4200/api patronguard audit verify --require-witness --json":
        (1, "needs a Prefect server at that address; without one the required witness is missing (exit 1)"),
}


def collect_examples() -> dict[str, list[str]]:
    """command path → the lines under "Example:" in its help, for every group and command."""
    found: dict[str, list[str]] = {}

    def walk(command: click.Command, path: str) -> None:
        lines = (command.help or "").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "Example:":
                for example in lines[i + 1:]:
                    if not example.strip():
                        break
                    found.setdefault(path, []).append(example.strip())
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())

    walk(cli, "")
    return found


def test_every_example_is_placed_in_the_order():
    found = collect_examples()
    assert set(found) == set(ORDER), "place new examples in ORDER (and drop removed ones)"
    for path, examples in found.items():
        for example in examples:
            assert "patronguard" in example, f"{path}: {example!r} does not run patronguard"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PATRONGUARD_") and k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PATRONGUARD_HOME=str(home), COLUMNS="120",
               PREFECT_HOME=str(home / "prefect"))
    return env


def _run(example: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -o pipefail; " + example], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_every_help_example_runs(tmp_path):
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    shutil.copytree(ROOT / "policy", cwd / "policy")
    shutil.copytree(ROOT / "examples", cwd / "examples")
    env = _env(home)
    found = collect_examples()
    ids: dict[str, str] = {}
    done: set[str] = set()
    failures = []
    for path in ORDER:
        for written in found.get(path, []):
            if written in done:       # the root's `patronguard demo` is demo's own example
                continue
            done.add(written)
            example = written
            if "3f2c…" in example:
                example = example.replace("3f2c…", ids["request"])
            if re.search(r"holds release \d+", example):
                example = re.sub(r"holds release \d+", f"holds release {ids['hold']}", example)
            if re.search(r"obligations close \d+", example):
                example = re.sub(r"obligations close \d+", f"obligations close {ids['obligation']}", example)
            result = _run(example, cwd, env)
            code, why = EXPECTED.get(written, (0, "must succeed"))
            if result.returncode != code:
                failures.append(f"{example}\n  exit {result.returncode}, expected {code} ({why})\n"
                                f"  stdout: {result.stdout[-800:]}\n  stderr: {result.stderr[-1500:]}")
            if path == "request submit" and result.returncode == 0:
                ids["request"] = result.stdout.strip().splitlines()[-1]
            if path == "request process":
                ids.update(_hold_and_obligation(cwd, env))
    assert not failures, "\n\n".join(failures)
    # nothing written into the working directory but what the examples name
    written = sorted(p.name for p in cwd.iterdir()) 
    assert "var" not in written and "patronguard.db" not in written, written
    assert (home / "var" / "ils.db").is_file() and (home / "var" / "patronguard.db").is_file()


PLACE_HOLD = ("from patronguard.store import opened_store; from patronguard.workflow.requests import place_hold_now; "
              "s = opened_store(None).__enter__(); "
              "place_hold_now(s, 42, reason=\"preservation order\", placed_by=\"director\", reference=\"WPD-1\")")


def _hold_and_obligation(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """The first active legal hold and open obligation (from the lists' --json), for the examples that name one."""
    out = {}
    holds = json.loads(_run("patronguard holds list --json", cwd, env).stdout or "[]")
    obligations = json.loads(_run("patronguard obligations list --json", cwd, env).stdout or "[]")
    if not holds:   # the processed request placed none: place one as a court's order would (audited)
        _run(f"{sys.executable} -c '{PLACE_HOLD}'", cwd, env).check_returncode()
        holds = json.loads(_run("patronguard holds list --json", cwd, env).stdout or "[]")
    out["hold"] = str(holds[0]["hold_id"])
    out["obligation"] = str(obligations[0]["obligation_id"]) if obligations else "999999"
    return out


if __name__ == "__main__":  # pragma: no cover - print the examples
    for command_path, lines in collect_examples().items():
        print(command_path or "(root)", *lines, sep="\n  ")
