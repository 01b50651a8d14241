"""The scan driver: files read chunk by chunk, each chunk's columns through the engine, findings tallied.

Plain functions (no command line), used by ``patronguard scan``, ``patronguard share`` and the
``share_export`` flow. Files are read chunk by chunk (:mod:`patronguard.scan.readers`), each chunk's
columns go to the engine (``Scanner.scan_column``) in this process or spread over ``workers`` processes
(each builds its Scanner once), and what is found is tallied (:class:`~patronguard.scan.report.ScanReport`)
and, if asked, written as JSONL. At most two chunks per worker are in flight, so memory stays bounded
whatever the files' size.
"""
from __future__ import annotations

import shutil
from collections import deque
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from ..errors import InputError

__all__ = [
    "ScanProgressSink", "check_outputs", "expand_paths", "load_known", "load_settings", "redact_and_rescan",
    "run_scan", "scan_chunk", "scan_files",
]


class ScanProgressSink(Protocol):
    """What :func:`run_scan` tells as it goes (the command line shows it; a flow may log it)."""

    def file(self, path: Path) -> None: ...

    def chunk(self, rows: int, findings: int) -> None: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- the scan
def scan_chunk(scanner, chunk):
    """One chunk through the engine, column by column (a workbook column is judged by its header)."""
    from .report import chunk_findings

    found = {label: scanner.scan_column(chunk.header(label), values) for label, values in chunk.columns.items()}
    return chunk_findings(chunk, found)


_WORKER_SCANNER = None


def _start_worker(settings, known) -> None:
    global _WORKER_SCANNER
    from .engine import Scanner

    _WORKER_SCANNER = Scanner(settings, known)


def _scan_in_worker(chunk):
    return scan_chunk(_WORKER_SCANNER, chunk)


def _chunks(paths: Sequence[Path], chunk_rows: int) -> Iterator:
    from .readers import iter_cell_chunks

    for path in paths:
        yield path, None
        for chunk in iter_cell_chunks(path, chunk_rows):
            yield path, chunk


def scan_files(paths: Sequence[Path], settings, known, *, workers: int = 1, chunk_rows: int = 50_000,
               scanner=None):
    """Scan ``paths``; yield ``(path, chunk, ChunkFindings)`` in file order (``chunk`` None when a file
    starts, so an empty file is still seen). ``scanner``: one already built (one process only)."""
    if workers <= 1:
        if scanner is None:
            from .engine import Scanner

            scanner = Scanner(settings, known)
        for path, chunk in _chunks(paths, chunk_rows):
            yield path, chunk, None if chunk is None else scan_chunk(scanner, chunk)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(settings, tuple(known))) as pool:
        waiting: deque = deque()
        try:
            for path, chunk in _chunks(paths, chunk_rows):
                waiting.append((path, chunk, None if chunk is None else pool.submit(_scan_in_worker, chunk)))
                while len(waiting) > 2 * workers:
                    yield _done(waiting.popleft())
            while waiting:
                yield _done(waiting.popleft())
        finally:
            for _path, _chunk, future in waiting:
                if future is not None:
                    future.cancel()


def _done(item):
    path, chunk, future = item
    return path, chunk, None if future is None else future.result()


# ----------------------------------------------------------------------------- inputs
def expand_paths(given: Sequence[str]) -> list[Path]:
    """The files to scan: each file given, every file under each folder given (sorted); each checked
    (:func:`~patronguard.scan.readers.check_input_file`) before any is read."""
    from .readers import check_input_file

    paths: list[Path] = []
    for text in given:
        path = Path(text)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        else:
            paths.append(path)
    for path in paths:
        check_input_file(path)
    return list(dict.fromkeys(paths))


def load_settings(settings_file: str | None, threshold: float | None = None):
    """The scan settings (a YAML file, or the built-in ones), with ``threshold`` overriding theirs."""
    from pydantic import ValidationError

    from .settings import DEFAULT_SETTINGS_FILE, ScanSettings, load_scan_settings

    settings = load_scan_settings(settings_file or DEFAULT_SETTINGS_FILE)
    if threshold is None:
        return settings
    try:
        return ScanSettings.model_validate({**settings.model_dump(), "threshold": threshold})
    except ValidationError as exc:
        raise InputError(f"--threshold: {exc.errors()[0]['msg']}") from None


def load_known(ils_url: str | None, known_file: str | None) -> list:
    """The known patrons: from the ILS (read-only) or a CSV; none when neither is given."""
    from .known import load_known_patrons_csv, load_known_patrons_ils

    if ils_url and known_file:
        raise InputError("scan: give --ils or --known-patrons, not both")
    if ils_url:
        return load_known_patrons_ils(ils_url)
    if known_file:
        return load_known_patrons_csv(known_file)
    return []


def check_outputs(paths: list[Path], findings_out: str | None, redact_dir: str | None, force: bool) -> None:
    """Every file the scan will write, checked before anything is read."""
    from ..outputs import check_folder, check_output_file
    from .redact import redacted_path

    if findings_out:
        check_output_file(findings_out, "--findings-out", force=force)
    if redact_dir:
        check_folder(Path(redact_dir), "--redact")
        names: dict[str, Path] = {}
        for path in paths:
            if path.name in names:
                raise InputError(f"--redact: {names[path.name]} and {path} would both be copied to "
                                 f"{redacted_path(path, redact_dir)}; scan them in two runs")
            names[path.name] = path
            target = redacted_path(path, redact_dir)
            if target.resolve() == path.resolve():
                raise InputError(f"--redact: {target} is the file scanned; give another folder")
            check_output_file(target, "--redact", force=force)


# ----------------------------------------------------------------------------- scan, redact, rescan
def run_scan(paths: list[Path], settings, known, *, workers: int = 1, progress: ScanProgressSink | None = None,
             findings_file=None, plan=None, chunk_rows: int = 50_000, scanner=None):
    """Scan ``paths`` into a :class:`ScanReport` (findings also written to ``findings_file`` and noted
    in the redaction ``plan`` when given)."""
    from .report import ScanReport

    report = ScanReport()
    for path, chunk, result in scan_files(paths, settings, known, workers=workers, chunk_rows=chunk_rows,
                                          scanner=scanner):
        if chunk is None:
            report.add_file(str(path))
            if progress is not None:
                progress.file(path)
            continue
        report.add(result, chunk.row_count)
        if findings_file is not None:
            findings_file.write(result.records)
        if plan is not None:
            plan.add(result.records)
        if progress is not None:
            progress.chunk(chunk.row_count, len(result.records))
    if progress is not None:
        progress.close()
    return report


def redact_and_rescan(paths: list[Path], out_dir: str, plan, settings, known, *, progress=None,
                      written: list[Path], scanner=None, chunk_rows: int = 50_000) -> list[dict]:
    """A redacted copy of each file in ``out_dir`` (a clean file is copied as it is), each scanned again;
    a copy that still holds patron data is removed. One entry per file: copy, clean, findings left."""
    from .engine import Scanner
    from .redact import Redactor, redacted_path, write_redacted_copy

    redactor = Redactor()
    scanner = scanner or Scanner(settings, known)
    outcome = []
    for path in paths:
        target = redacted_path(path, out_dir)
        spans = plan.of(str(path))
        if spans:
            write_redacted_copy(path, out_dir, spans, redactor, chunk_rows)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        written.append(target)
        again = run_scan([target], settings, known, workers=1, progress=progress, scanner=scanner,
                         chunk_rows=chunk_rows)
        clean = not again.blocked
        if not clean:
            target.unlink(missing_ok=True)
        outcome.append({"file": str(path), "copy": str(target) if clean else None, "clean": clean,
                        "cells_redacted": len(spans), "findings_left": again.findings})
    return outcome
