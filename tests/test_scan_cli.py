"""``patronguard scan`` end to end with the real engine: exit codes, the findings JSONL, row and column
conventions per format, masked previews only (a planted value never appears in any output), redacted
copies scanned clean, and bad input refused in one line with nothing written."""
from __future__ import annotations

import json

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from cli_helpers import run_cli
from faker import Faker

FINDING_FIELDS = {"file", "row", "column", "start", "end", "entity", "score", "recognizer", "explanation", "preview"}


def luhn_complete(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


@pytest.fixture(scope="module")
def patrons():
    fake = Faker("en_US")
    fake.seed_instance(11)
    return [{"cardnumber": luhn_complete(f"2947{100000 + i:09d}"), "firstname": fake.first_name(),
             "surname": fake.last_name(), "email": fake.email(domain="example.org")} for i in range(12)]


@pytest.fixture
def known_csv(tmp_path, patrons):
    path = tmp_path / "known.csv"
    path.write_text("cardnumber,firstname,surname,email\n" + "".join(
        f"{p['cardnumber']},{p['firstname']},{p['surname']},{p['email']}\n" for p in patrons), encoding="utf-8")
    return path


def planted_note(patron) -> str:
    return f"Patron {patron['firstname']} {patron['surname']} asked about card {patron['cardnumber']}"


def secrets_of(patrons) -> list[str]:
    return [v for p in patrons for v in (p["cardnumber"], p["email"], f"{p['firstname']} {p['surname']}")]


CLEAN_NOTES = ["Book club met in the Ellis room", "Shelf 4 reorganised", "Grace period extended for all",
               "May book sale moved", "Will be withdrawn after review"]


def _rows(patrons, planted_at):
    """Six rows of (id, title, note); ``planted_at`` row indexes hold a patron in the note."""
    out = []
    for i in range(6):
        note = planted_note(patrons[i]) if i in planted_at else CLEAN_NOTES[i % len(CLEAN_NOTES)]
        out.append((str(i + 1), f"Annual report {2020 + i}", note))
    return out


def write_export(tmp_path, kind: str, rows, name="export"):
    path = tmp_path / f"{name}.{kind}"
    header = ("id", "title", "note")
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        path.write_text(sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows), encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps({"loans": [dict(zip(header, r)) for r in rows]}), encoding="utf-8")
    elif kind == "jsonl":
        path.write_text("\n".join(json.dumps(dict(zip(header, r))) for r in rows) + "\n", encoding="utf-8")
    elif kind == "parquet":
        pq.write_table(pa.table({h: [r[i] for r in rows] for i, h in enumerate(header)}), path, row_group_size=4)
    elif kind == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Loans"
        sheet.append(header)
        for r in rows:
            sheet.append(list(r))
        book.save(path)
    return path


def scan(capsys, *args):
    return run_cli(capsys, "scan", *map(str, args))


def read_findings(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_no_secret(patrons, *texts):
    for text in texts:
        for secret in secrets_of(patrons):
            assert secret not in text


# ----------------------------------------------------------------------------- verdicts and findings
@pytest.mark.parametrize("kind, column", [("csv", "note"), ("tsv", "note"), ("json", "note"), ("jsonl", "note"),
                                          ("parquet", "note"), ("xlsx", "Loans!note")])
def test_planted_patrons_block_the_file_with_located_masked_findings(capsys, tmp_path, patrons, known_csv,
                                                                       kind, column):
    export = write_export(tmp_path, kind, _rows(patrons, planted_at={1, 4}))
    out_file = tmp_path / "findings.jsonl"
    code, out, err = scan(capsys, export, "--known-patrons", known_csv, "--findings-out", out_file)
    assert code == 3, err
    assert out.startswith("BLOCKED:")
    findings = read_findings(out_file)
    assert findings and all(set(f) == FINDING_FIELDS for f in findings)
    assert {f["column"] for f in findings} == {column}
    assert {f["row"] for f in findings} == {1, 4}                       # 0-based data row (XLSX: excel row - 2)
    for f in findings:
        note = planted_note(patrons[f["row"]])
        assert 0 <= f["start"] < f["end"] <= len(note) and f["file"] == str(export)
        assert "*" in f["preview"] and f["preview"] != note[f["start"]:f["end"]]
    card_findings = [f for f in findings if f["entity"] == "LIBRARY_CARD"]
    assert {(f["row"], planted_note(patrons[f["row"]])[f["start"]:f["end"]]) for f in card_findings} == \
        {(1, patrons[1]["cardnumber"]), (4, patrons[4]["cardnumber"])}
    assert_no_secret(patrons, out, err, out_file.read_text(encoding="utf-8"))


def test_a_clean_export_exits_0(capsys, tmp_path, patrons, known_csv):
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at=set()))
    code, out, err = scan(capsys, export, "--known-patrons", known_csv)
    assert code == 0, err
    assert out.startswith("CLEAN: no patron data found in 1 file (18 cells scanned)")


def test_json_verdict_per_column(capsys, tmp_path, patrons, known_csv):
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at={0, 2, 3}))
    code, out, err = scan(capsys, export, "--known-patrons", known_csv, "--json")
    assert code == 3, err
    verdict = json.loads(out)
    assert verdict["status"] == "blocked" and verdict["files"][0]["rows"] == 6
    [note] = verdict["columns"]
    assert note["column"] == "note" and note["cells"] == 6 and note["cells_with_findings"] == 3
    assert note["hit_rate"] == 0.5 and "LIBRARY_CARD" in note["entities"] and note["max_score"] > 0.5
    assert note["distinct_values"] >= 3 and note["why"] and all("*" in e for e in note["examples"])
    assert_no_secret(patrons, out, err)


def test_workers_find_the_same(capsys, tmp_path, patrons, known_csv):
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at={0, 5}))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert scan(capsys, export, "--known-patrons", known_csv, "--findings-out", one)[0] == 3
    assert scan(capsys, export, "--known-patrons", known_csv, "--findings-out", two, "--workers", "2")[0] == 3
    assert read_findings(one) == read_findings(two)


def test_known_patrons_from_the_ils(capsys, tmp_path, small_ils_sqlite_copy):
    engine = sa.create_engine(f"sqlite:///{small_ils_sqlite_copy}")
    with engine.connect() as conn:
        card, first, surname, email = conn.execute(sa.text(
            "SELECT cardnumber, firstname, surname, email FROM borrowers WHERE email IS NOT NULL AND firstname IS NOT NULL "
            "ORDER BY borrowernumber LIMIT 1")).one()
    engine.dispose()
    export = tmp_path / "share.csv"
    export.write_text(f"id,comment\n1,Shelf 4 reorganised\n2,Refund sent to {first} {surname} ({email})\n",
                      encoding="utf-8")
    code, out, err = scan(capsys, export, "--ils", f"sqlite:///{small_ils_sqlite_copy}", "--json")
    assert code == 3, err
    [column] = json.loads(out)["columns"]
    assert column["column"] == "comment" and column["cells_with_findings"] == 1
    assert_no_secret([{"cardnumber": card, "email": email, "firstname": first, "surname": surname}], out, err)


# ----------------------------------------------------------------------------- redaction
@pytest.mark.parametrize("kind", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx"])
def test_redacted_copy_is_written_rescanned_and_clean(capsys, tmp_path, patrons, known_csv, kind):
    export = write_export(tmp_path, kind, _rows(patrons, planted_at={1, 2}))
    out_dir = tmp_path / "redacted"
    code, out, err = scan(capsys, export, "--known-patrons", known_csv, "--redact", out_dir, "--json")
    assert code == 3, err                          # the export itself still holds patron data
    [entry] = json.loads(out)["redacted"]
    assert entry["clean"] and entry["findings_left"] == 0 and entry["cells_redacted"] == 2
    copy = out_dir / export.name
    assert entry["copy"] == str(copy)
    code, again, err = scan(capsys, copy, "--known-patrons", known_csv)
    assert code == 0 and again.startswith("CLEAN"), again + err
    texts = [str(v) for values in _cells(copy).values() for v in values]
    assert any("<LIBRARY_CARD>" in t for t in texts)
    assert "Annual report 2021" in texts and CLEAN_NOTES[0] in texts          # the rest is untouched
    assert_no_secret(patrons, *texts)


def _cells(path):
    from patronguard.scan.readers import iter_cell_chunks

    columns: dict[str, list] = {}
    for chunk in iter_cell_chunks(path):
        for label, values in chunk.columns.items():
            columns.setdefault(label, []).extend(values)
    return columns


# ----------------------------------------------------------------------------- bad input
BAD_FILES = {"empty.csv": b"", "binary.csv": b"\x00\x01\x02\x03garbage", "notes.docx": b"PK\x03\x04",
             "ragged.csv": b"a,b\n1,2\n3,4,5\n", "deep.json": b"[" * 2000 + b"]" * 2000,
             "locked.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(capsys, tmp_path, patrons, known_csv, name):
    good = write_export(tmp_path, "csv", _rows(patrons, planted_at={1}))
    bad = tmp_path / name
    bad.write_bytes(BAD_FILES[name])
    findings, out_dir = tmp_path / "findings.jsonl", tmp_path / "redacted"
    code, out, err = scan(capsys, good, bad, "--known-patrons", known_csv, "--findings-out", findings,
                          "--redact", out_dir)
    assert code == 2
    *progress, last = err.strip().splitlines()     # a file scanned before the bad one is said to be done
    assert last.startswith("patronguard: error:") and name in last
    assert all(" scanned in " in line for line in progress)
    assert out == "" and not findings.exists() and not out_dir.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []     # no temporary left


def test_a_latin1_csv_is_scanned_not_refused(capsys, tmp_path, patrons, known_csv):
    export = tmp_path / "latin.csv"
    export.write_bytes(f"note\nCafé: {planted_note(patrons[3])}\n".encode("latin-1"))
    code, out, err = scan(capsys, export, "--known-patrons", known_csv)
    assert code == 3, err


@pytest.mark.parametrize("args, expected", [
    (["--ils", "sqlite:///x.db", "--known-patrons", "k.csv"], "give --ils or --known-patrons, not both"),
    (["--threshold", "0"], "--threshold"),
    (["--workers", "0"], "--workers"),
    (["--settings", "missing.yaml"], "missing.yaml: file not found"),
])
def test_bad_options_are_one_line(capsys, tmp_path, patrons, args, expected, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at=set()))
    code, out, err = scan(capsys, export, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and expected in err


def test_an_existing_findings_file_needs_force(capsys, tmp_path, patrons, known_csv):
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at={1}))
    findings = tmp_path / "findings.jsonl"
    findings.write_text("keep me\n")
    code, _out, err = scan(capsys, export, "--known-patrons", known_csv, "--findings-out", findings)
    assert code == 2 and "already exists; pass --force" in err and findings.read_text() == "keep me\n"
    assert scan(capsys, export, "--known-patrons", known_csv, "--findings-out", findings, "--force")[0] == 3
    assert read_findings(findings)


# ----------------------------------------------------------------------------- folders and processes
def test_a_folder_is_every_file_in_it(capsys, tmp_path, patrons, known_csv):
    share = tmp_path / "share"
    share.mkdir()
    write_export(share, "csv", _rows(patrons, planted_at=set()), name="clean")
    write_export(share, "jsonl", _rows(patrons, planted_at={2}), name="leaky")
    code, out, err = scan(capsys, share, "--known-patrons", known_csv, "--json")
    assert code == 3, err
    verdict = json.loads(out)
    assert sorted(f["file"] for f in verdict["files"]) == [str(share / "clean.csv"), str(share / "leaky.jsonl")]
    assert [c["file"] for c in verdict["columns"]] == [str(share / "leaky.jsonl")]


def test_chunks_spread_over_processes_give_the_findings_of_one_process(tmp_path, patrons, known_csv):
    """Many chunks through two worker processes: the same findings, in file order, as in this process."""
    from patronguard.cli.scan import scan_files
    from patronguard.scan.known import load_known_patrons_csv
    from patronguard.scan.settings import DEFAULT_SETTINGS_FILE, load_scan_settings

    rows = [(str(i), "Report", planted_note(patrons[i % 12]) if i % 5 == 0 else CLEAN_NOTES[i % 5]) for i in range(60)]
    exports = [write_export(tmp_path, "csv", rows, name="a"), write_export(tmp_path, "xlsx", rows, name="b")]
    settings, known = load_scan_settings(DEFAULT_SETTINGS_FILE), load_known_patrons_csv(known_csv)

    def findings(workers):
        return [(r.file, r.row, r.column, r.start, r.end, r.entity) for _path, _chunk, result
                in scan_files(exports, settings, known, workers=workers, chunk_rows=7) if result for r in result.records]

    alone = findings(1)
    assert {row for _f, row, *_ in alone} == set(range(0, 60, 5))
    assert findings(2) == alone


def test_an_unreachable_ils_is_an_error_not_a_block(capsys, tmp_path, patrons):
    export = write_export(tmp_path, "csv", _rows(patrons, planted_at=set()))
    code, out, err = scan(capsys, export, "--ils", "mysql+pymysql://nobody@127.0.0.1:1/koha")
    assert code == 2 and out == "" and err.startswith("patronguard: error: --ils: cannot connect")
    assert "worth retrying" in err and len(err.strip().splitlines()) == 1


def test_threshold_keeps_only_findings_that_score_at_least_it(capsys, tmp_path, patrons, known_csv):
    export = tmp_path / "notes.csv"
    export.write_text(f"note\n{planted_note(patrons[0])}; phone (203) 555-0147\n", encoding="utf-8")
    everything, strict = tmp_path / "all.jsonl", tmp_path / "strict.jsonl"
    assert scan(capsys, export, "--known-patrons", known_csv, "--findings-out", everything)[0] == 3
    code, _out, err = scan(capsys, export, "--known-patrons", known_csv, "--findings-out", strict, "--threshold", "0.99")
    assert code == 3, err
    low = [f for f in read_findings(everything) if f["score"] < 0.99]
    assert low, "the phone number scores below 0.99"
    assert read_findings(strict) == [f for f in read_findings(everything) if f["score"] >= 0.99]


def test_redacted_tsv_keeps_quotes_and_backslashes_as_they_were(capsys, tmp_path, patrons, known_csv):
    export = tmp_path / "notes.tsv"
    export.write_text(f'note\tpath\n{planted_note(patrons[0])}\tC:\\\\share\n"Dune" said\tx\\y\n', encoding="utf-8")
    out_dir = tmp_path / "redacted"
    assert scan(capsys, export, "--known-patrons", known_csv, "--redact", out_dir)[0] == 3
    lines = (out_dir / "notes.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "note\tpath" and lines[2] == '"Dune" said\tx\\y'
    assert "<LIBRARY_CARD>" in lines[1] and lines[1].endswith("\tC:\\\\share")
