"""`patronguard demo`: builds the demo ILS, runs the nightly flow, shows where things are."""
from __future__ import annotations

import os

from patronguard.demo import run_demo


def test_demo_creates_ils_runs_flow_and_lists_files(prefect_harness, tmp_path):
    said, shown = [], []
    var_before = os.environ.get("PATRONGUARD_VAR")
    run_demo(var_dir=str(tmp_path), policy=None, patrons=200, loans=3000, say=said.append, show=shown.append)
    output = "\n".join(shown)
    assert (tmp_path / "ils.db").exists() and (tmp_path / "patronguard.db").exists()
    reports = list((tmp_path / "reports").glob("exposure-*.md"))
    assert len(reports) == 1 and str(reports[0]) in output
    assert "Privacy exposure as of" in output and "old_issues" in output
    assert "BEFORE the run" in output and "AFTER the run" in output and "verification passed" in output
    progress = "\n".join(said)
    assert "[1/3]" in progress and "[2/3]" in progress and "[3/3]" in progress
    assert "creating a synthetic library" in progress
    # --dir holds every file the run wrote: audit checkpoints and pins too; the process's setting is restored
    assert (tmp_path / "audit").is_dir() and (tmp_path / "keys" / "audit").is_dir()
    assert os.environ.get("PATRONGUARD_VAR") == var_before

    # a second run reuses the ILS
    said.clear()
    run_demo(var_dir=str(tmp_path), policy=None, patrons=200, loans=3000, say=said.append, show=shown.append)
    assert any("reusing it" in line for line in said)
