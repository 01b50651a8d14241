"""Benchmark: the leak scanner against plain per-cell Presidio with the same recognizers, in one run.

Generates (seeded Faker, ``scan_data.py``) known patrons, a loan export (``--rows``, 8 columns: loan
id, 14-digit Luhn item barcode starting 3, title, author, due and return dates, branch, note; about
3 % of rows a note with a known patron's name, card, email, phone or address) and a statistics export
(``--stats-rows``: date, branch, item type, patron category, three counts; no patron data), then:

1. **Equal findings, plain vs ours, in this process**: the loan export chunk by chunk, each column
   through ``Scanner.scan_column_plain`` (Presidio on every text cell: the reference) and
   ``Scanner.scan_column`` (pre-filter, de-duplicated values); the findings must be identical. If
   the plain scan of the whole file would take more than ``--plain-max-seconds`` (estimated on the
   first ``--sample`` rows) it runs on that sample only and its time is extrapolated (said so).
2. **``patronguard scan``'s path in fresh processes** (``scan_files`` as the command runs it: the
   readers, the engine, the report's tally), one process and ``--workers 2``: build and scan time,
   CPU, cells/s (cells = rows x columns, as for plain), peak RSS; the findings' digest must equal
   the in-process one. The real command is also timed end to end, start-up included.
3. **Memory flat in file size**: peak RSS of a fresh process scanning the statistics export vs
   one scanning a tenth of it.
4. **The known-patron dictionary** at ``--dictionary-patrons``: ours vs Presidio's ``deny_list``
   (``scan_dictionary.py``).

Targets (issue 11): >= 50x plain Presidio at the same findings on the loan export; >= 50,000 cells/s
on one core; memory flat in file size. The machine has 2 shared cores: compare the ratios (and CPU
seconds), not the wall-clock absolutes.

    .venv/bin/python benchmarks/scan.py [--rows 100000] [--stats-rows 1000000] [--sample 5000]
        [--patrons 2000] [--dictionary-patrons 100000] [--deny-sample 200] [--skip-deny-list]

Measured here (2026-12-01, defaults, two runs, the second under load 2.6-3.4; about 3-4 minutes a run):

* loan export, 800,000 cells, plain Presidio on the whole file: 11,236 / 6,385 cells/s (71 / 125 s wall,
  73 s CPU); ``scan_column`` 4,574 findings, identical to plain's (and the same digest from the
  command's path, one process and ``--workers 2``);
* engine alone vs plain, interleaved in one process: 66.7x / 98.5x wall, 67.3x CPU;
* the command's path, one process (reading, engine, tally; start-up and the 1.5-2 s scanner build
  excluded): 598,901 / 376,717 cells/s = 53.3x / 59.0x plain, 53.1x per CPU second; 578,626 cells per
  CPU second (target 50,000); the real command end to end 3.1-3.6 s (23-35x plain, start-up included);
* ``--workers 2``: slower than one process at these sizes (0.25-0.39x: spawned workers import Presidio
  and build their scanner, chunks are pickled to them; 5.4-5.7 s CPU against 1.4 s);
* statistics export, 7,000,000 cells: 3.8-4.3 M cells/s, 248-270x plain (plain on a 5,000-row sample,
  extrapolated to 440-454 s); no findings;
* peak RSS of a fresh process: 340-341 MB at 1,000,000 rows vs 295-301 MB at 100,000 (1.13-1.15x for 10x
  the rows; 344 MB at 3,000,000 rows, measured once by hand): flat, most of it is the imports;
* known-patron dictionary at 100,000 patrons: built in 4.3-4.4 s, 46-101 µs a note cell; Presidio's
  ``deny_list`` of the 100,000 full names: 23-28 s to build, 14.0-19.2 ms a cell (DESIGN.md: 68 ms),
  242-379x ours on the same 200 cells, and it finds full names only (4 cells of 200, ours 15).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_RATIO, TARGET_CELLS_PER_S = 50.0, 50_000


def _finding_key(row: int, column: str, start: int, end: int, entity: str, recognizer: str, score: float) -> str:
    return f"{row}\t{column}\t{start}\t{end}\t{entity}\t{recognizer}\t{round(float(score), 4)}"


def _digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- child: the command's path
def _scan_files():
    try:
        from patronguard.scan.run import scan_files          # where the driver may move
    except ImportError:
        from patronguard.cli.scan import scan_files
    return scan_files


def child(path: str, known_file: str, workers: int) -> None:
    """Scan one file as ``patronguard scan`` does; print one JSON line of figures."""
    started = time.perf_counter()
    from patronguard.scan.engine import Scanner
    from patronguard.scan.known import load_known_patrons_csv
    from patronguard.scan.report import ScanReport
    from patronguard.scan.settings import DEFAULT_SETTINGS_FILE, load_scan_settings

    settings = load_scan_settings(DEFAULT_SETTINGS_FILE)
    known = load_known_patrons_csv(known_file) if known_file else []
    scanner = Scanner(settings, known) if workers == 1 else None
    built = time.perf_counter()
    cpu0 = time.process_time()
    report = ScanReport()
    rows = cells = 0
    keys: list[str] = []
    for _path, chunk, result in _scan_files()([Path(path)], settings, known, workers=workers, scanner=scanner):
        if chunk is None:
            continue
        report.add(result, chunk.row_count)
        rows += chunk.row_count
        cells += chunk.row_count * len(chunk.columns)
        keys.extend(_finding_key(r.row, r.column, r.start, r.end, r.entity, r.recognizer, r.score)
                    for r in result.records)
    done = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"workers": workers, "build_s": built - started, "scan_s": done - built,
                      "cpu_s": time.process_time() - cpu0 + children.ru_utime + children.ru_stime,
                      "rows": rows, "cells": cells, "findings": report.findings, "digest": _digest(keys),
                      "peak_rss_mb": _vm_hwm_mb(), "workers_peak_rss_mb": children.ru_maxrss / 1024}))


def run_child(path: Path, known_file: Path | None, workers: int) -> dict:
    command = [sys.executable, __file__, "--child", str(path), "--known", str(known_file or ""),
               "--workers", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({' '.join(command)}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_command(path: Path, known_file: Path, workers: int) -> dict:
    """The real ``patronguard scan`` end to end (start-up included): wall, CPU, peak RSS, exit code."""
    command = [str(ROOT / ".venv/bin/patronguard"), "scan", str(path), "--known-patrons", str(known_file), "--json",
               "--workers", str(workers)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    findings = json.loads(text)["findings"] if code in (0, 3) and text.strip() else None
    return {"command": " ".join(["patronguard", *command[1:]]), "exit": code, "seconds": seconds,
            "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024, "findings": findings}


# ----------------------------------------------------------------------------- in process: plain vs ours
def compare_in_process(path: Path, scanner, sample_rows: int, plain_max_seconds: float, total_rows: int) -> dict:
    """Plain per-cell Presidio and ``scan_column`` on the same chunks, findings compared."""
    from patronguard.scan.readers import iter_cell_chunks

    first = next(iter_cell_chunks(path, sample_rows))
    started = time.perf_counter()
    for label, values in first.columns.items():
        scanner.scan_column_plain(first.header(label), values)
    estimate = (time.perf_counter() - started) * total_rows / max(1, first.row_count)
    full = estimate <= plain_max_seconds
    chunks = iter_cell_chunks(path, 50_000) if full else [first]
    out = {"full": full, "estimate_s": estimate, "rows": 0, "cells": 0, "plain_s": 0.0, "ours_s": 0.0,
           "plain_cpu_s": 0.0, "ours_cpu_s": 0.0,
           "plain_findings": 0, "ours_findings": 0, "mismatched_columns": 0}
    plain_keys: list[str] = []
    for chunk in chunks:
        out["rows"] += chunk.row_count
        out["cells"] += chunk.row_count * len(chunk.columns)
        for label, values in chunk.columns.items():
            column = chunk.header(label)
            t0, c0 = time.perf_counter(), time.process_time()
            plain = scanner.scan_column_plain(column, values)
            t1, c1 = time.perf_counter(), time.process_time()
            ours = scanner.scan_column(column, values)
            t2, c2 = time.perf_counter(), time.process_time()
            out["plain_s"] += t1 - t0
            out["ours_s"] += t2 - t1
            out["plain_cpu_s"] += c1 - c0
            out["ours_cpu_s"] += c2 - c1
            out["plain_findings"] += len(plain)
            out["ours_findings"] += len(ours)
            out["mismatched_columns"] += plain != ours
            plain_keys.extend(_finding_key(chunk.first_row + f.index, label, f.start, f.end, f.entity, f.recognizer,
                                           f.score) for f in plain)
    out["digest"] = _digest(plain_keys)
    return out


def _rate(cells: int, seconds: float) -> float:
    return cells / seconds if seconds > 0 else float("inf")


def print_in_process(name: str, r: dict, total_rows: int, columns: int) -> float:
    """Print the comparison; return plain Presidio's cells/s."""
    plain_rate, ours_rate = _rate(r["cells"], r["plain_s"]), _rate(r["cells"], r["ours_s"])
    scope = ("the whole file" if r["full"] else
             f"a sample of the first {r['rows']:,} rows (whole file estimated at {r['estimate_s']:.0f} s: extrapolated)")
    print(f"\n== {name}: plain per-cell Presidio vs Scanner.scan_column, in this process, on {scope} ==")
    print(f"  plain Presidio: {r['cells']:,} cells in {r['plain_s']:.2f} s ({r['plain_cpu_s']:.2f} s CPU) = "
          f"{plain_rate:,.0f} cells/s; {r['plain_findings']:,} findings")
    print(f"  scan_column:    {r['cells']:,} cells in {r['ours_s']:.3f} s ({r['ours_cpu_s']:.3f} s CPU) = "
          f"{ours_rate:,.0f} cells/s; {r['ours_findings']:,} findings")
    equal = r["mismatched_columns"] == 0 and r["plain_findings"] == r["ours_findings"]
    print(f"  findings equal: {'yes' if equal else 'NO'} ({r['mismatched_columns']} column chunk(s) differ); "
          f"engine-only ratio {ours_rate / plain_rate:,.1f}x wall, "
          f"{r['plain_cpu_s'] / max(r['ours_cpu_s'], 1e-9):,.1f}x CPU (the two interleaved column by column)")
    if not r["full"]:
        print(f"  plain Presidio over all {total_rows * columns:,} cells, extrapolated: "
              f"{total_rows * columns / plain_rate:,.0f} s")
    return plain_rate


def print_child(label: str, r: dict) -> None:
    print(f"  {label}: build {r['build_s']:.2f} s, scan {r['scan_s']:.2f} s ({r['cpu_s']:.2f} s CPU) = "
          f"{_rate(r['cells'], r['scan_s']):,.0f} cells/s ({_rate(r['cells'], r['cpu_s']):,.0f} per CPU second); "
          f"{r['findings']:,} findings [{r['digest']}]; peak RSS {r['peak_rss_mb']:.0f} MB"
          + (f" (workers {r['workers_peak_rss_mb']:.0f} MB each at most)" if r["workers"] > 1 else ""))


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the loan export")
    parser.add_argument("--stats-rows", type=int, default=1_000_000, help="rows of the statistics export")
    parser.add_argument("--sample", type=int, default=5_000,
                        help="rows plain Presidio runs on when the whole file would take too long")
    parser.add_argument("--plain-max-seconds", type=float, default=120.0)
    parser.add_argument("--patrons", type=int, default=2_000, help="known patrons of the scans")
    parser.add_argument("--dictionary-patrons", type=int, default=100_000)
    parser.add_argument("--deny-sample", type=int, default=200, help="note cells the deny list is timed on")
    parser.add_argument("--skip-deny-list", action="store_true")
    parser.add_argument("--skip-command", action="store_true", help="don't time the real command end to end")
    parser.add_argument("--workdir", help="keep the generated files here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--known", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.known, args.workers)
        return
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        run(args, Path(args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="scan-bench-") as workdir:
            run(args, Path(workdir))


def run(args, workdir: Path) -> None:
    import scan_data
    from scan_dictionary import compare_dictionaries, print_comparison

    from patronguard.scan.engine import Scanner
    from patronguard.scan.readers import iter_cell_chunks
    from patronguard.scan.settings import DEFAULT_SETTINGS_FILE, load_scan_settings

    started = time.perf_counter()
    patrons = scan_data.make_known_patrons(max(args.patrons, args.dictionary_patrons), args.seed)
    known = patrons[:args.patrons]
    known_file = workdir / "known-patrons.csv"
    scan_data.write_known_patrons(known_file, known)
    loans, stats, stats_small = workdir / "loans.csv", workdir / "statistics.csv", workdir / "statistics-tenth.csv"
    planted = scan_data.write_loan_export(loans, args.rows, known, args.seed)
    scan_data.write_stats_export(stats, args.stats_rows, args.seed)
    scan_data.write_stats_export(stats_small, max(1, args.stats_rows // 10), args.seed)
    print(f"generated in {time.perf_counter() - started:.1f} s: {len(patrons):,} patrons ({args.patrons:,} known to "
          f"the scans), loan export {args.rows:,} rows x {len(scan_data.LOAN_HEADER)} columns ({planted:,} notes with "
          f"patron data), statistics export {args.stats_rows:,} rows x {len(scan_data.STATS_HEADER)} columns "
          f"(and one of {max(1, args.stats_rows // 10):,} rows); cpu count {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")

    settings = load_scan_settings(DEFAULT_SETTINGS_FILE)
    scanner = Scanner(settings, known)
    loan_cmp = compare_in_process(loans, scanner, args.sample, args.plain_max_seconds, args.rows)
    plain_rate = print_in_process("loan export", loan_cmp, args.rows, len(scan_data.LOAN_HEADER))

    print("\n== loan export through patronguard scan's path (fresh processes) ==")
    loan_one = run_child(loans, known_file, 1)
    print_child("one process", loan_one)
    loan_two = run_child(loans, known_file, 2)
    print_child("--workers 2", loan_two)
    same = loan_one["digest"] == loan_two["digest"] == loan_cmp["digest"] if loan_cmp["full"] else \
        loan_one["digest"] == loan_two["digest"]
    print(f"  same findings as {'plain Presidio and ' if loan_cmp['full'] else ''}each other: {'yes' if same else 'NO'}")
    commands = []
    if not args.skip_command:
        for workers in (1, 2):
            c = run_command(loans, known_file, workers)
            commands.append(c)
            print(f"  $ {c['command']}\n    exit {c['exit']}, {c['seconds']:.2f} s wall ({c['cpu_s']:.2f} s CPU) "
                  f"end to end = {_rate(loan_one['cells'], c['seconds']):,.0f} cells/s, {c['findings']} findings, "
                  f"peak RSS {c['peak_rss_mb']:.0f} MB")

    print("\n== statistics export through patronguard scan's path (fresh processes) ==")
    stats_one = run_child(stats, known_file, 1)
    print_child(f"{args.stats_rows:,} rows, one process", stats_one)
    stats_two = run_child(stats, known_file, 2)
    print_child(f"{args.stats_rows:,} rows, --workers 2", stats_two)
    small_one = run_child(stats_small, known_file, 1)
    print_child(f"{max(1, args.stats_rows // 10):,} rows, one process", small_one)
    stats_cmp = compare_in_process(stats, scanner, args.sample, 0.0, args.stats_rows)
    stats_plain_rate = print_in_process("statistics export", stats_cmp, args.stats_rows, len(scan_data.STATS_HEADER))

    dictionary = None
    if args.dictionary_patrons:
        # the non-empty notes of the loan export's first 20,000 rows (the deny list: the first few of them)
        first = next(iter_cell_chunks(loans, min(args.rows, 20_000)))
        notes = [v for v in first.columns["note"] if v and v.strip()]
        dictionary = compare_dictionaries(patrons[:args.dictionary_patrons], notes, args.deny_sample, settings,
                                          args.skip_deny_list)
        print_comparison(dictionary)

    summary(args, loan_cmp, plain_rate, loan_one, loan_two, stats_one, stats_two, small_one, stats_plain_rate,
            commands, dictionary)


def summary(args, loan_cmp, plain_rate, loan_one, loan_two, stats_one, stats_two, small_one, stats_plain_rate,
            commands, dictionary) -> None:
    one_rate = _rate(loan_one["cells"], loan_one["scan_s"])
    one_cpu_rate = _rate(loan_one["cells"], loan_one["cpu_s"])
    two_rate = _rate(loan_two["cells"], loan_two["scan_s"])
    equal = loan_cmp["mismatched_columns"] == 0 and loan_cmp["plain_findings"] == loan_cmp["ours_findings"]
    print("\n== summary (ratios measured in this run) ==")
    print(f"  loan export, plain Presidio {plain_rate:,.0f} cells/s "
          f"({'measured on the whole file' if loan_cmp['full'] else 'measured on a sample, extrapolated'}); "
          f"findings equal: {'yes' if equal else 'NO'}")
    plain_cpu_rate = _rate(loan_cmp["cells"], loan_cmp["plain_cpu_s"])
    print(f"  engine alone (in process, interleaved with plain): "
          f"{_rate(loan_cmp['cells'], loan_cmp['ours_s']) / plain_rate:,.1f}x plain wall, "
          f"{loan_cmp['plain_cpu_s'] / max(loan_cmp['ours_cpu_s'], 1e-9):,.1f}x CPU")
    print(f"  scan's path, one process (reading and tally included): {one_cpu_rate / plain_cpu_rate:,.1f}x plain "
          "per CPU second")
    print(f"  one process: {one_rate:,.0f} cells/s = {one_rate / plain_rate:,.1f}x plain "
          f"(target >= {TARGET_RATIO:.0f}x: {_verdict(one_rate / plain_rate >= TARGET_RATIO and equal)}); "
          f"{one_cpu_rate:,.0f} cells per CPU second (target >= {TARGET_CELLS_PER_S:,} on one core: "
          f"{_verdict(min(one_rate, one_cpu_rate) >= TARGET_CELLS_PER_S)})")
    print(f"  --workers 2: {two_rate:,.0f} cells/s = {two_rate / plain_rate:,.1f}x plain, "
          f"{two_rate / one_rate:.2f}x one process (start-up of the workers included)")
    for c in commands:
        print(f"  command end to end (--workers {c['command'].split('--workers ')[-1]}): "
              f"{_rate(loan_one['cells'], c['seconds']) / plain_rate:,.1f}x plain, start-up included")
    s_rate = _rate(stats_one["cells"], stats_one["scan_s"])
    print(f"  statistics export, one process: {s_rate:,.0f} cells/s = {s_rate / stats_plain_rate:,.1f}x plain "
          f"(plain on a sample); --workers 2: {_rate(stats_two['cells'], stats_two['scan_s']):,.0f} cells/s")
    growth = stats_one["peak_rss_mb"] / small_one["peak_rss_mb"]
    print(f"  memory: peak RSS {stats_one['peak_rss_mb']:.0f} MB at {stats_one['rows']:,} rows vs "
          f"{small_one['peak_rss_mb']:.0f} MB at {small_one['rows']:,} rows: {growth:.2f}x for 10x the rows "
          f"(flat: {_verdict(growth < 1.5)})")
    if dictionary and "deny_list_s_per_cell" in dictionary:
        print(f"  dictionary at {dictionary['patrons']:,} patrons: {dictionary['ours_s_per_cell'] * 1e6:,.0f} µs a cell vs "
              f"deny_list {dictionary['deny_list_s_per_cell'] * 1e3:,.1f} ms a cell "
              f"({dictionary['deny_list_s_per_cell'] / dictionary['ours_sample_s_per_cell']:,.0f}x); build "
              f"{dictionary['ours_dictionary_build_s']:.2f} s vs {dictionary['deny_list_build_s']:.2f} s")


if __name__ == "__main__":
    main()
