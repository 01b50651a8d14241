"""Progress of a retention run for people, on stderr.

The engine reports each batch as ``"<table>: <N> rows <verb>"`` (N the table's running total) and every
other step as a sentence. :class:`RunProgress` turns that into:

* on a terminal: a rich progress display — the table being worked on and all tables together, each with
  its total from the exposure measured before acting (the rows the run will change), rows done and the
  time remaining — and, when a table is done, one line for it (``old_issues: 820,149 rows stripped in
  12.3 s``);
* when stdout or stderr is not a terminal, or the output is ``--json``: plain concise lines — the sentences, one
  line per table when it is done, and at most one running line per table every
  :data:`PLAIN_EVERY` seconds (no bar, no line per batch).
"""
from __future__ import annotations

import sys
import time
from typing import Callable

import click

from ..retention.progress import parse_batch_line

#: Seconds between two running lines of one table in plain mode.
PLAIN_EVERY = 10.0


class RunProgress:
    """A ``progress`` callback for :func:`patronguard.retention.run.run_retention` (and its ``measured``)."""

    def __init__(self, *, plain: bool | None = None, echo: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self.plain = (not (sys.stderr.isatty() and sys.stdout.isatty())) if plain is None else plain
        self.clock = clock
        self.totals: dict[str, int] = {}
        self.current: str | None = None
        self.rows: dict[str, int] = {}
        self.verb: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.last_line: dict[str, float] = {}
        self.finished: list[str] = []    # one line per table, in order
        self._mark = clock()             # when the work now under way began (the last step or table done)
        self._bar = None
        self._task = None
        self._all = None

    # ------------------------------------------------------------------ callbacks
    def measured(self, report) -> None:
        """The totals: the rows each table will change (actionable in the exposure measured before acting)."""
        self.totals = {t.table: t.actionable for t in report.tables}
        self._mark = self.clock()

    def __call__(self, message: str) -> None:
        batch = parse_batch_line(message)
        if batch is None:
            self._end_table()
            self._line(message)
            self._mark = self.clock()
            return
        table, rows, verb = batch
        if table != self.current:
            self._end_table()
            self._start_table(table)
        self.rows[table] = max(rows, self.rows.get(table, 0))
        self.verb[table] = verb
        self._update(table)

    def close(self, *, stopped: bool = False) -> None:
        """End the display (call after the run, whatever happened; ``stopped``: it failed midway)."""
        self._end_table(" before the run stopped" if stopped else "")
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(stopped=kind is not None)

    # ------------------------------------------------------------------ tables
    def _start_table(self, table: str) -> None:
        self.current = table
        self.started[table] = self._mark
        self.last_line[table] = self.clock()
        if self.plain:
            return
        bar = self._ensure_bar()
        total = self.totals.get(table)
        self._task = bar.add_task(table, total=total or None)

    def _update(self, table: str) -> None:
        rows = self.rows[table]
        if self.plain:
            now = self.clock()
            if now - self.last_line[table] >= PLAIN_EVERY:
                self.last_line[table] = now
                self.echo(f"{table}: {rows:,}{self._of(table)} rows {self.verb[table]} …")
            return
        total = self.totals.get(table)
        if total is not None and rows > total:   # the measurement is a floor (e.g. rows of removed patrons)
            self._bar.update(self._task, total=rows)
        self._bar.update(self._task, completed=rows, description=f"{table} ({self.verb[table]})")
        self._bar.update(self._all, completed=self._done_overall())

    def _end_table(self, suffix: str = "") -> None:
        table, self.current = self.current, None
        if table is None:
            return
        self._mark = self.clock()
        seconds = self._mark - self.started[table]
        line = f"{table}: {self.rows.get(table, 0):,} rows {self.verb.get(table, 'changed')} in {seconds:.1f} s{suffix}"
        self.finished.append(line)
        if not self.plain and self._bar is not None:
            self._bar.remove_task(self._task)
            self._task = None
            self._bar.update(self._all, completed=self._done_overall())
        self._line(line)

    def _of(self, table: str) -> str:
        total = self.totals.get(table)
        return f" of {total:,}" if total else ""

    def _done_overall(self) -> int:
        return sum(min(rows, self.totals.get(t, rows)) for t, rows in self.rows.items())

    # ------------------------------------------------------------------ output
    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self.echo(text)

    def _ensure_bar(self):
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("rows"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                 console=Console(stderr=True, highlight=False), transient=True)
            self._bar.start()
            total = sum(self.totals.values()) or None
            self._all = self._bar.add_task("all tables", total=total)
        return self._bar
