"""``patronguard scan``: scan exports for patron data before they leave the library.

A thin command over the scan driver (:mod:`patronguard.scan.run`: ``expand_paths``, ``run_scan``,
``redact_and_rescan``, …), which flows use too; here: the options, progress on stderr, the verdict.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..errors import TerminalError, TransientError
from ..scan.run import (  # noqa: F401 - scan_files re-exported for callers of the former module
    check_outputs, expand_paths, load_known, load_settings, redact_and_rescan, run_scan, scan_files,
)
from .output import dumps, say, show_table

#: exit code of a scan that found patron data (0: clean; 2: bad input, configuration or any other failure)
EXIT_BLOCKED = 3


class ScanFailedError(TerminalError):
    """A failure that elsewhere is transient (exit 3): for ``scan``, 3 means blocked, so it exits 2."""


# ----------------------------------------------------------------------------- progress
class ScanProgress:
    """Rows scanned, for people on stderr: a rich display on a terminal, else one line per file."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain
        self._bar = None
        self._task = None
        self._file: Path | None = None
        self._started = time.monotonic()
        self._rows = self._findings = 0

    def file(self, path: Path) -> None:
        self._end()
        self._file, self._started, self._rows, self._findings = path, time.monotonic(), 0, 0
        if not self.plain:
            if self._bar is None:
                from rich.console import Console
                from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

                self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     TextColumn("{task.completed:,} rows"), TimeElapsedColumn(),
                                     console=Console(stderr=True, highlight=False), transient=True)
                self._bar.start()
            self._task = self._bar.add_task(f"scanning {path.name}", total=None)

    def chunk(self, rows: int, findings: int) -> None:
        self._rows += rows
        self._findings += findings
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._rows)

    def _end(self) -> None:
        if self._file is None:
            return
        line = (f"{self._file}: {self._rows:,} row{'s' if self._rows != 1 else ''} scanned in {time.monotonic() - self._started:.1f} s, "
                f"{self._findings:,} finding{'s' if self._findings != 1 else ''}")
        if self._bar is not None:
            self._bar.remove_task(self._task)
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            say(line)
        self._file = None

    def close(self) -> None:
        self._end()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ----------------------------------------------------------------------------- the command
@click.command("scan")
@click.argument("given_paths", nargs=-1, required=True, metavar="PATH…")
@click.option("--ils", "ils_url", metavar="URL", default=None,
              help="Look for the ILS's patrons (borrowers, deletedborrowers, borrower_modifications), read-only.")
@click.option("--known-patrons", "known_file", metavar="FILE.csv", default=None,
              help="Look for the patrons of this CSV (headers: any of cardnumber, firstname, middlename, surname, "
                   "email, phone, address, city, zipcode, dateofbirth).")
@click.option("--settings", "settings_file", metavar="FILE.yaml", default=None,
              help="Scan settings: card and item patterns, allow-list, columns, threshold (default: built in).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--findings-out", "findings_out", metavar="FILE.jsonl", default=None,
              help="Write every finding as JSONL (masked previews, never the value).")
@click.option("--redact", "redact_dir", metavar="OUTDIR", default=None,
              help="Write a redacted copy of each file into OUTDIR (findings replaced by <ENTITY>), scanned again.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Lowest score that counts as a finding (default: the settings', 0.5).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Spread the chunks over N processes.")
@click.option("--force", is_flag=True, help="Overwrite an existing --findings-out file or redacted copy.")
def scan(given_paths, ils_url, known_file, settings_file, as_json, findings_out, redact_dir, threshold, workers,
         force) -> None:
    """Scan exports for patron data before they leave the library.

    Reads CSV, TSV, JSON, JSONL, Parquet and XLSX (every sheet; a folder:
    every file in it), streaming, and looks for library cards, known
    patrons (--ils or --known-patrons: names, emails, phones, addresses,
    birth dates, held in memory only), emails, phones, street addresses
    and dates of birth. Prints a verdict per column (entities, hit rate,
    highest score, distinct values as masked previews, why). Exit code 0:
    clean; 3: blocked (patron data found in a file given — with --redact
    too: the redacted copies are reported apart); 2: bad input or any other
    failure (an unreachable ILS too), one line, nothing written.

    \b
    Example:
      patronguard scan examples/requests/westport-ct-11-25b-statistics.json --findings-out scan-findings.jsonl
    """
    try:
        _scan(given_paths, ils_url, known_file, settings_file, as_json, findings_out, redact_dir, threshold,
              workers, force)
    except TransientError as exc:      # e.g. the ILS unreachable: an error (2), never "blocked" (3)
        raise ScanFailedError(f"{exc} (transient: worth retrying)") from None


def _scan(given_paths, ils_url, known_file, settings_file, as_json, findings_out, redact_dir, threshold, workers,
          force) -> None:
    from ..scan.redact import RedactionPlan
    from ..scan.report import SUMMARY_COLUMNS, FindingsFile

    paths = expand_paths(given_paths)
    check_outputs(paths, findings_out, redact_dir, force)
    settings = load_settings(settings_file, threshold)
    known = load_known(ils_url, known_file)
    plain = as_json or not (sys.stderr.isatty() and sys.stdout.isatty())
    findings_file = FindingsFile(findings_out) if findings_out else None
    plan = RedactionPlan() if redact_dir else None
    written: list[Path] = []
    try:
        from ..scan.engine import Scanner

        scanner = Scanner(settings, known) if workers == 1 or redact_dir else None   # built once, used twice
        report = run_scan(paths, settings, known, workers=workers, progress=ScanProgress(plain),
                          findings_file=findings_file, plan=plan, scanner=scanner)
        redacted = (redact_and_rescan(paths, redact_dir, plan, settings, known, progress=None, written=written,
                                      scanner=scanner) if redact_dir else None)
    except BaseException:
        if findings_file is not None:
            findings_file.abort()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    if findings_file is not None:
        findings_file.commit()
    if as_json:
        click.echo(dumps({**report.to_dict(), "findings_out": findings_out, "redacted": redacted}))
    else:
        _show(report, redacted, findings_out, SUMMARY_COLUMNS)
    if report.blocked or (redacted and not all(r["clean"] for r in redacted)):
        sys.exit(EXIT_BLOCKED)


def _show(report, redacted, findings_out, columns) -> None:
    files = len(report.files)
    cells = sum(f["cells"] for f in report.files.values())
    if report.blocked:
        blocked = report.blocked_files()
        click.echo(f"BLOCKED: {report.findings:,} finding{'s' if report.findings != 1 else ''} of patron data in "
                   f"{len(blocked)} of {files} file{'s' if files != 1 else ''} ({cells:,} cells scanned); "
                   "not to be released as it is")
        show_table("Patron data found, by column", columns, report.summary_rows(), empty="")
    else:
        click.echo(f"CLEAN: no patron data found in {files} file{'s' if files != 1 else ''} ({cells:,} cells scanned)")
    if findings_out:
        click.echo(f"findings: {findings_out}")
    for entry in redacted or []:
        if entry["clean"]:
            click.echo(f"redacted copy: {entry['copy']} — clean ({entry['cells_redacted']:,} cells redacted)")
        else:
            click.echo(f"redacted copy of {entry['file']}: still holds patron data after redaction "
                       f"({entry['findings_left']:,} findings); removed")
