"""The scanner's quality on the seeded labelled corpus (tests/scan_corpus.py): recall per entity and
per form, no finding on any decoy, the pre-filter losing nothing, and no network."""
from __future__ import annotations

import random
import socket
from collections import defaultdict

import pytest
import spacy.cli

from patronguard.scan.engine import CellFinding, Scanner
from patronguard.scan.recognizers import email
from patronguard.scan.settings import ScanSettings

from scan_corpus import SETTINGS, Cell, make_corpus

#: the issue's target for these entities; every other entity and every form must reach FORM_RECALL
TARGET_RECALL = {"LIBRARY_CARD": 0.98, "EMAIL_ADDRESS": 0.98, "PHONE_NUMBER": 0.98, "KNOWN_PATRON": 0.98}
FORM_RECALL = 0.95


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(seed=11, patron_count=2000, per_form=100)


@pytest.fixture(scope="module")
def scanner(corpus) -> Scanner:
    return Scanner(SETTINGS, corpus.patrons)


@pytest.fixture(scope="module")
def scanned(corpus, scanner) -> dict[str, tuple[list[Cell], list[CellFinding]]]:
    return {column: (cells, scanner.scan_column(column, [c.text for c in cells]))
            for column, cells in corpus.columns().items()}


def _by_cell(findings: list[CellFinding]) -> dict[int, list[CellFinding]]:
    grouped: dict[int, list[CellFinding]] = defaultdict(list)
    for finding in findings:
        grouped[finding.index].append(finding)
    return grouped


def _recall(scanned) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """[found, planted] per entity and per form; a label is found by a finding of its entity overlapping it."""
    per_entity: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_form: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for cells, findings in scanned.values():
        by_cell = _by_cell(findings)
        for index, cell in enumerate(cells):
            for label in cell.labels:
                hit = any(f.entity == label.entity and f.start < label.end and label.start < f.end
                          for f in by_cell[index])
                for tally in (per_entity[label.entity], per_form[f"{label.entity}: {label.form}"]):
                    tally[0] += hit
                    tally[1] += 1
    return per_entity, per_form


def test_the_corpus_is_seeded_and_covers_every_form(corpus):
    again = make_corpus(seed=11, patron_count=2000, per_form=100)
    assert [(c.column, c.text) for c in again.cells] == [(c.column, c.text) for c in corpus.cells]
    forms = {label.form for cell in corpus.cells for label in cell.labels}
    assert len(forms) >= 35 and len({c.decoy for c in corpus.cells if c.decoy}) >= 15
    for cell in corpus.cells:
        for label in cell.labels:
            assert 0 <= label.start < label.end <= len(cell.text)


def test_recall_per_entity_and_per_form(scanned):
    per_entity, per_form = _recall(scanned)
    print("\nrecall per entity:", {e: f"{h}/{n}" for e, (h, n) in sorted(per_entity.items())})
    for entity, target in TARGET_RECALL.items():
        hits, planted = per_entity[entity]
        assert planted >= 300 and hits / planted >= target, (entity, hits, planted)
    low = {form: f"{h}/{n}" for form, (h, n) in per_form.items() if h / n < FORM_RECALL}
    assert not low, low


def test_no_finding_on_any_decoy(scanned):
    false_positives = defaultdict(list)
    decoys = 0
    for cells, findings in scanned.values():
        by_cell = _by_cell(findings)
        for index, cell in enumerate(cells):
            if cell.decoy:
                decoys += 1
                if by_cell[index]:
                    false_positives[cell.decoy].append(sorted({f.entity for f in by_cell[index]}))
    assert decoys >= 1500
    assert not false_positives, {k: len(v) for k, v in false_positives.items()}


def test_false_positives_per_entity_on_planted_cells_are_rare(scanned):
    """Findings on cells with planted PII that overlap no label (e.g. a surname that is also a word)."""
    extra: dict[str, int] = defaultdict(int)
    total = 0
    for cells, findings in scanned.values():
        for finding in findings:
            total += 1
            labels = cells[finding.index].labels
            if not any(l.start < finding.end and finding.start < l.end for l in labels):
                extra[finding.entity] += 1
    print("\nfindings overlapping no label, per entity:", dict(extra), "of", total)
    assert sum(extra.values()) <= 0.01 * total


def test_the_prefilter_loses_nothing(corpus, scanner, scanned):
    """scan_column (pre-filter, de-duplication) == scan_column_plain (Presidio on every cell)."""
    for column, (cells, findings) in scanned.items():
        plain = scanner.scan_column_plain(column, [c.text for c in cells])
        assert findings == plain, column
    assert sum(len(f) for _, f in scanned.values()) > 3000


def test_the_prefilter_loses_nothing_at_other_thresholds(corpus):
    for threshold in (0.3, 0.7):
        scanner = Scanner(SETTINGS.model_copy(update={"threshold": threshold}), corpus.patrons)
        for column, cells in corpus.columns().items():
            values = [c.text for c in cells[:150]]
            assert scanner.scan_column(column, values) == scanner.scan_column_plain(column, values), (threshold, column)


def test_the_prefilter_loses_nothing_on_mixed_cells(corpus, scanner):
    """Cells made of two or three corpus cells joined by spaces, newlines, dashes, no-break spaces and
    the like: PII next to decoys, across lines, in odd spacing — still the same findings."""
    rng = random.Random(7)
    joiners = [" ", "\n", "; ", "\u00a0", " \u2014 ", "  ", "\t", ",", ""]
    texts = [c.text for c in corpus.cells]
    values = [rng.choice(joiners).join(rng.sample(texts, rng.randint(2, 3))) for _ in range(1500)]
    for column in ("note", "author", "dateofbirth", "patron_phone"):
        assert scanner.scan_column(column, values) == scanner.scan_column_plain(column, values), column


def test_presidio_is_called_once_per_distinct_candidate_value(corpus, scanner):
    patron = corpus.patrons[10]
    named = f"{patron.firstname} {patron.surname} paid"
    calls = []
    analyze = scanner.analyzer.analyze

    def counting(*args, **kwargs):
        calls.append(kwargs["text"])
        return analyze(*args, **kwargs)

    values = ["Returned late", named, "Returned late", None, "born 1990-07-04", named, "Grace period"]
    scanner.analyzer.analyze = counting
    try:
        findings = scanner.scan_column("note", values)
    finally:
        scanner.analyzer.analyze = analyze
    assert sorted(calls) == sorted(["born 1990-07-04", named])
    assert sorted((f.index, f.entity) for f in findings) == [(1, "KNOWN_PATRON"), (4, "DATE_OF_BIRTH"),
                                                              (5, "KNOWN_PATRON")]


def test_the_prefilter_skips_cells_that_cannot_hold_pii(scanner):
    values = [f"Returned late ({n} days)" for n in range(50)] + ["31234000000420", "2024-05-01", "Grace period"]
    assert scanner.candidates.select(values, "note", ["note"]) == []


def test_building_and_scanning_make_no_network_connection(monkeypatch, corpus):
    def refuse(*_args, **_kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(spacy.cli, "download", refuse)
    email._suffixes.cache_clear()           # the public-suffix list is loaded afresh, under the patch
    for model in (None, "en_core_web_lg_not_installed_here"):
        scanner = Scanner(ScanSettings(nlp_model=model), corpus.patrons[:100])
        assert scanner.scan_column("note", ["jane dot doe at gmail dot com"])[0].entity == "EMAIL_ADDRESS"
