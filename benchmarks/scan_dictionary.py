"""The known-patron dictionary at scale (part of ``benchmarks/scan.py``): patronguard's KNOWN_PATRON
recognizer (one Aho-Corasick automaton) against Presidio's ``PatternRecognizer(deny_list=[…])`` (one
regex alternation of every name), both at the same number of patrons.

Each recognizer runs alone in an ``AnalyzerEngine`` with the same NLP engine, called per cell as
Presidio calls it (``analyze(text, entities=["KNOWN_PATRON"])``), on the same note cells. Build time:
ours is the dictionary plus the scanner around it; the deny list's is its constructor plus the first
call (Presidio compiles the pattern then). Only counts are printed, never a cell or a name.
"""
from __future__ import annotations

import time
from typing import Sequence

from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

from patronguard.scan.engine import Scanner, column_context
from patronguard.scan.known import KnownPatron
from patronguard.scan.settings import ScanSettings

ENTITY = "KNOWN_PATRON"


def _per_cell(analyzer: AnalyzerEngine, cells: Sequence[str], context: list[str]) -> tuple[float, int]:
    """(seconds a cell, cells with at least one KNOWN_PATRON result)."""
    hit = 0
    started = time.perf_counter()
    for text in cells:
        if analyzer.analyze(text=text, language="en", entities=[ENTITY], context=context):
            hit += 1
    return (time.perf_counter() - started) / max(1, len(cells)), hit


def compare_dictionaries(patrons: Sequence[KnownPatron], cells: Sequence[str], deny_cells: int,
                         settings: ScanSettings, skip_deny_list: bool) -> dict:
    """Build time and per-cell time of both at ``len(patrons)`` patrons; the deny list on the first
    ``deny_cells`` cells only (it takes tens of milliseconds a cell)."""
    out: dict = {"patrons": len(patrons), "cells": len(cells)}
    started = time.perf_counter()
    from patronguard.scan.recognizers import PatronDictionary

    PatronDictionary(patrons)
    out["ours_dictionary_build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner = Scanner(settings, patrons)
    out["ours_scanner_build_s"] = time.perf_counter() - started
    known = [r for r in scanner.registry.recognizers if ENTITY in r.supported_entities]
    ours = AnalyzerEngine(registry=RecognizerRegistry(known, supported_languages=["en"]),
                          nlp_engine=scanner.analyzer.nlp_engine, supported_languages=["en"],
                          default_score_threshold=settings.threshold)
    context = column_context("note", settings)
    out["ours_s_per_cell"], out["ours_cells_hit"] = _per_cell(ours, cells, context)
    sample = list(cells[:deny_cells])
    out["ours_sample_s_per_cell"], out["ours_sample_cells_hit"] = _per_cell(ours, sample, context)
    out["deny_cells"] = len(sample)
    if skip_deny_list:
        return out
    names = list(dict.fromkeys(f"{p.firstname} {p.surname}" for p in patrons if p.firstname and p.surname))
    out["deny_list_names"] = len(names)
    started = time.perf_counter()
    deny = PatternRecognizer(supported_entity=ENTITY, deny_list=names, name="deny_list")
    presidio = AnalyzerEngine(registry=RecognizerRegistry([deny], supported_languages=["en"]),
                              nlp_engine=scanner.analyzer.nlp_engine, supported_languages=["en"],
                              default_score_threshold=settings.threshold)
    presidio.analyze(text="warm-up", language="en", entities=[ENTITY])   # compiles the alternation
    out["deny_list_build_s"] = time.perf_counter() - started
    out["deny_list_s_per_cell"], out["deny_list_cells_hit"] = _per_cell(presidio, sample, [])
    return out


def print_comparison(result: dict) -> None:
    n = result["patrons"]
    print(f"\n== known-patron dictionary at {n:,} patrons ==")
    print(f"  ours: dictionary built in {result['ours_dictionary_build_s']:.2f} s "
          f"(whole scanner {result['ours_scanner_build_s']:.2f} s); "
          f"{result['ours_s_per_cell'] * 1e6:,.0f} µs a cell over {result['cells']:,} note cells "
          f"({result['ours_cells_hit']:,} with a KNOWN_PATRON finding)")
    print(f"  ours on the deny list's {result['deny_cells']:,} cells: {result['ours_sample_s_per_cell'] * 1e6:,.0f} µs "
          f"a cell ({result['ours_sample_cells_hit']:,} with a finding)")
    if "deny_list_s_per_cell" not in result:
        print("  Presidio deny_list: skipped (--skip-deny-list)")
        return
    print(f"  Presidio deny_list of {result['deny_list_names']:,} full names: built (constructor + first call) in "
          f"{result['deny_list_build_s']:.2f} s; {result['deny_list_s_per_cell'] * 1e3:,.1f} ms a cell "
          f"({result['deny_list_cells_hit']:,} of {result['deny_cells']:,} cells with a finding; exact "
          "full names only, no surname-first, card, email, phone or address)")
    ratio = result["deny_list_s_per_cell"] / max(result["ours_sample_s_per_cell"], 1e-12)
    print(f"  ratio per cell, deny_list / ours (same cells): {ratio:,.0f}x")
