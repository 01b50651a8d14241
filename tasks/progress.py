"""Progress of a long task where the Director and IT look: the task's log and a Prefect progress artifact.

The retention engine reports each batch as a line (:mod:`patronguard.retention.progress`); a task logs it
with the table's total from the exposure measured before acting ("old_issues: 120,000 of 820,149 rows
stripped") and moves a progress artifact (0–100 %) the UI shows on the run's page. Only counts: the lines
hold table names and numbers, never a patron value.
"""
from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from patronguard.retention.progress import parse_batch_line


class TaskProgress:
    """A ``progress`` callback for one table's task."""

    def __init__(self, table: str, expected_rows: int) -> None:
        self.table, self.expected = table, max(0, int(expected_rows))
        self.logger = get_run_logger()
        self.artifact = create_progress_artifact(
            progress=0.0, description=f"{table}: {self.expected:,} rows past retention to act on")

    def __call__(self, message: str) -> None:
        batch = parse_batch_line(message)
        if batch is None:
            self.logger.info(message)
            return
        table, rows, verb = batch
        if not self.expected:
            self.logger.info(message)
            return
        self.logger.info(f"{table}: {rows:,} of {self.expected:,} rows {verb}")
        update_progress_artifact(self.artifact, progress=min(100.0, 100.0 * rows / self.expected))

    def done(self) -> None:
        update_progress_artifact(self.artifact, progress=100.0)
