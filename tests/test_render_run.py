"""The retention run's Prefect artifact reads top-down: verification first, only the tables that had rows."""
from __future__ import annotations

from conftest import ROOT, SMALL_SPEC

from patronguard.retention.render_run import render_run_markdown
from patronguard.retention.run import run_retention

POLICY = str(ROOT / "policy/westchester.yaml")


def test_the_run_artifact_puts_verification_first_and_fits_a_window(small_ils_sqlite_copy, tmp_path):
    run = run_retention(f"sqlite:///{small_ils_sqlite_copy}", POLICY, store_url=f"sqlite:///{tmp_path / 's.db'}",
                        as_of=SMALL_SPEC["until"].isoformat(), batch_size=400)
    markdown = render_run_markdown(run)
    lines = markdown.splitlines()
    assert lines[0].startswith("# Retention run as of ")
    assert lines[2] == f"**Verification: passed** ({len(run.batch_ids):,} batches)."  # before any table
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| table ")]
    acted = [o for o in run.tables if o.stripped or o.deleted or o.aggregated or o.scrubbed or o.anonymised
             or o.staff_links_cleared or sum(o.exempt.values())]
    assert len(rows) == len(acted) > 0
    quiet = [o.table for o in run.tables if o not in acted]
    said = [line for line in lines if line.startswith("Nothing past retention in: ")]
    assert said == (["Nothing past retention in: " + ", ".join(quiet) + "."] if quiet else [])
    total = sum(o.stripped + o.deleted for o in run.tables)
    assert f"Rows stripped or deleted: **{total:,}**" in markdown
    assert max(len(line) for line in lines if not line.startswith("- ")) <= 140  # no page-wide title or row
