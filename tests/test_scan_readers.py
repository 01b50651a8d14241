"""The export readers: every format as chunks of text cells, rows numbered by each format's convention,
bad input refused in one line naming the file, memory flat in the file's size."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from patronguard.errors import InputError
from patronguard.scan.readers import iter_cell_chunks

CARD = "29470000000275"


def cells(path, chunk_rows=50_000):
    """file → {column: [values…]} over all chunks, and the chunks' (sheet, first_row, rows)."""
    columns: dict[str, list] = {}
    shape = []
    for chunk in iter_cell_chunks(path, chunk_rows):
        shape.append((chunk.sheet, chunk.first_row, chunk.row_count))
        for label, values in chunk.columns.items():
            columns.setdefault(label, []).extend(values)
    return columns, shape


def refused(path) -> str:
    with pytest.raises(InputError) as caught:
        list(iter_cell_chunks(path))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


# ----------------------------------------------------------------------------- CSV / TSV
def test_csv_cells_are_text_and_chunks_are_numbered_by_data_row(tmp_path):
    path = tmp_path / "loans.csv"
    rows = [f"{i},{CARD if i == 3 else '00%d' % i},\"note, {i}\"" for i in range(7)]
    path.write_text("id,card,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    columns, shape = cells(path, chunk_rows=3)
    assert shape == [(None, 0, 3), (None, 3, 3), (None, 6, 1)]
    assert columns["card"][3] == CARD and columns["card"][0] == "000"      # leading zeros kept: text, not numbers
    assert columns["note"][5] == "note, 5"
    assert list(columns) == ["id", "card", "note"]


def test_csv_empty_cells_are_none_and_quoted_newlines_stay_in_their_cell(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"line one\nline two"\n2,\n', encoding="utf-8")
    columns, shape = cells(path)
    assert columns["note"] == ["line one\nline two", None]
    assert shape == [(None, 0, 2)]


def test_tsv(tmp_path):
    path = tmp_path / "stats.tsv"
    path.write_text('branch\tnote\nMPL\tsaid "hi"\n', encoding="utf-8")
    assert cells(path)[0] == {"branch": ["MPL"], "note": ['said "hi"']}


def test_bom_and_latin1_csv_are_read_not_refused(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffname,city\nTomás,Niño\n".encode("utf-8"))
    assert cells(bom)[0] == {"name": ["Tomás"], "city": ["Niño"]}
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,note\nJosé Núñez,café\n".encode("latin-1"))
    assert cells(latin)[0] == {"name": ["José Núñez"], "note": ["café"]}
    windows = tmp_path / "cp1252.csv"
    windows.write_bytes("note\nO\u2019Brien\u2019s card\n".encode("cp1252"))
    assert cells(windows)[0] == {"note": ["O\u2019Brien\u2019s card"]}


def test_duplicate_and_empty_headers_each_get_a_label(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("name,name,\na,b,c\n", encoding="utf-8")
    assert cells(path)[0] == {"name": ["a"], "name#2": ["b"], "column 3": ["c"]}


@pytest.mark.parametrize("body, line, fields", [("a,b\n1,2\n3,4,5\n", 3, 3), ("a,b\n1,2\n3,4\n5\n", 4, 1)])
def test_ragged_csv_rows_are_refused_naming_the_line(tmp_path, body, line, fields):
    path = tmp_path / "ragged.csv"
    path.write_text(body, encoding="utf-8")
    message = refused(path)
    assert f"line {line} has {fields} field" in message and "the header 2" in message


def test_ragged_row_message_never_quotes_the_row(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(f"a,b\n1,2\nJane Doe,{CARD},extra\n", encoding="utf-8")
    message = refused(path)
    assert "Jane" not in message and CARD not in message


# ----------------------------------------------------------------------------- bad files
@pytest.mark.parametrize("name, content, expected", [
    ("empty.csv", b"", "empty file"),
    ("blank.csv", b"  \n\n", "empty file"),
    ("nul.csv", b"a,b\n\x00\x01\x02\x03", "binary file"),
    ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "binary file (a PNG image)"),
    ("workbook.csv", b"PK\x03\x04rest", "binary file (a zip archive"),
    ("export.docx", b"PK\x03\x04", "unknown file type '.docx'"),
    ("noext", b"a,b\n", "unknown file type '(no extension)'"),
    ("utf16.csv", "name\nJosé\n".encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    ("fake.parquet", b"a,b\n1,2\n", "not a Parquet file"),
    ("fake.xlsx", b"a,b\n1,2\n", "not an XLSX workbook"),
    ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "not a readable XLSX workbook"),
    ("encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "password-protected"),
    ("broken.parquet", b"PAR1" + b"\x00" * 20, "not a readable Parquet file"),
])
def test_bad_files_are_one_line_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert expected in refused(path)


def test_missing_file_and_folder(tmp_path):
    assert "file not found" in refused(tmp_path / "gone.csv")
    (tmp_path / "dir.csv").mkdir()
    assert "not a regular file" in refused(tmp_path / "dir.csv")


# ----------------------------------------------------------------------------- JSON / JSONL
def test_json_array_nested_keys_and_numbers_as_text(tmp_path):
    path = tmp_path / "patrons.json"
    path.write_text(json.dumps([{"card": int(CARD), "who": {"name": "Jane", "phones": ["555-0100"]}},
                                {"card": None, "active": True}]), encoding="utf-8")
    assert cells(path)[0] == {"card": [CARD, None], "who.name": ["Jane", None], "who.phones.0": ["555-0100", None],
                              "active": [None, "true"]}


def test_json_object_holding_rows_and_a_plain_object(tmp_path):
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"loans": [{"n": "a"}, {"n": "b"}, {"n": "c"}]}), encoding="utf-8")
    columns, shape = cells(held, chunk_rows=2)
    assert columns == {"n": ["a", "b", "c"]} and shape == [(None, 0, 2), (None, 2, 1)]
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"title": "Report", "contact": {"email": "x@example.org"}}), encoding="utf-8")
    assert cells(single)[0] == {"title": ["Report"], "contact.email": ["x@example.org"]}


def test_deep_and_oversized_json_are_refused(tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    assert "nested more than" in refused(deep)
    deep_lines = tmp_path / "deep.jsonl"
    deep_lines.write_text('{"a": 1}\n' + '{"a":' * 100 + "1" + "}" * 100 + "\n", encoding="utf-8")
    assert "line 2: nested more than" in refused(deep_lines)
    big = tmp_path / "big.json"
    big.write_text(json.dumps([{"n": "x" * 100}] * 100), encoding="utf-8")
    monkeypatch.setenv("PATRONGUARD_MAX_INPUT_BYTES", "1000")
    assert "larger than the limit" in refused(big)


def test_jsonl_row_is_the_line_blank_lines_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"n": "a", "amount": 1.50}\n\n{"n": "b"}\n{"n": "c"}\n', encoding="utf-8")
    rows = {}
    for chunk in iter_cell_chunks(path, chunk_rows=2):
        for i, value in enumerate(chunk.columns["n"]):
            rows[value] = chunk.first_row + i
    assert rows == {"a": 0, "b": 2, "c": 3}
    assert cells(path)[0]["amount"][0] == "1.50"        # as written


@pytest.mark.parametrize("line, expected", [('{"a": 1, "a": 2}', "line 2: duplicate key 'a'"),
                                            ("{not json}", "line 2: not valid JSON"),
                                            ('{"a": NaN}', "line 2: NaN is not a JSON number")])
def test_bad_jsonl_lines_name_the_line(tmp_path, line, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n' + line + "\n", encoding="utf-8")
    assert expected in refused(path)


# ----------------------------------------------------------------------------- Parquet / XLSX
def test_parquet_by_row_groups_numbers_and_structs_as_text(tmp_path):
    path = tmp_path / "export.parquet"
    table = pa.table({"card": pa.array([int(CARD) + i for i in range(5)], pa.int64()),
                      "who": [{"name": f"n{i}", "zip": "06880"} for i in range(5)],
                      "tags": [["a"], [], None, ["b", "c"], ["d"]]})
    pq.write_table(table, path, row_group_size=2)
    columns, shape = cells(path, chunk_rows=2)
    assert [first for _sheet, first, _rows in shape] == [0, 2, 4]
    assert columns["card"][0] == CARD and columns["who.name"][4] == "n4" and columns["who.zip"][0] == "06880"
    assert columns["tags"][3] == '["b", "c"]' and columns["tags"][2] is None


def test_xlsx_every_sheet_labelled_sheet_header_row_is_excel_row_minus_two(tmp_path):
    path = tmp_path / "report.xlsx"
    book = openpyxl.Workbook()
    loans = book.active
    loans.title = "Loans"
    loans.append(["card", "note"])
    loans.append([int(CARD), "first"])          # excel row 2 → row 0
    loans.append([2.9470000000275e13, None])   # a card typed as a float
    loans.append([None, "third"])               # excel row 4 → row 2
    notes = book.create_sheet("Notes")
    notes.append(["text", None])
    notes.append(["hello", "unlabelled"])
    book.save(path)
    found = {}
    for chunk in iter_cell_chunks(path, chunk_rows=2):
        for label, values in chunk.columns.items():
            for i, value in enumerate(values):
                if value is not None:
                    found[(label, chunk.first_row + i)] = value
        assert all(label.startswith(f"{chunk.sheet}!") for label in chunk.columns)
    assert found == {("Loans!card", 0): CARD, ("Loans!note", 0): "first", ("Loans!card", 1): CARD,
                     ("Loans!note", 2): "third", ("Notes!text", 0): "hello", ("Notes!B", 0): "unlabelled"}


def test_an_xlsx_that_is_a_zip_but_not_a_workbook(tmp_path):
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "not a readable XLSX workbook" in refused(path)


# ----------------------------------------------------------------------------- memory
PEAK_RSS = """
import resource, sys
from patronguard.scan.readers import iter_cell_chunks
rows = sum(chunk.row_count for chunk in iter_cell_chunks(sys.argv[1], 50_000))
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _generate_csv(path, megabytes: int) -> int:
    line = f"12345,Loan renewed at the desk; card {CARD[:-2]}xx,2026-01-02,39470000012345\n".encode()
    block = line * 10_000
    blocks = megabytes * 1024 * 1024 // len(block)
    with path.open("wb") as handle:
        handle.write(b"id,note,date,barcode\n")
        for _ in range(blocks):
            handle.write(block)
    return blocks * 10_000


def test_memory_stays_flat_in_the_file_size(tmp_path):
    """A 200 MB CSV is read with about the peak memory of a 20 MB one, far below its size (each read in a
    fresh process; peak RSS less that of reading a one-row file: the interpreter and its libraries)."""
    peaks = {}
    for megabytes in (0, 20, 200):
        path = tmp_path / f"export-{megabytes}.csv"
        rows = _generate_csv(path, megabytes) if megabytes else path.write_text(f"id\n{CARD}\n") and 1
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True,
                             check=True, timeout=120).stdout.split()
        assert int(out[0]) == rows
        peaks[megabytes] = int(out[1])
        path.unlink()
    mib = 1024 * 1024
    working = {size: (peak - peaks[0]) / mib for size, peak in peaks.items()}
    assert working[200] - working[20] < 50, f"peak grew from {working[20]:.0f} to {working[200]:.0f} MiB"
    # 50,000 rows of text cells in Python and Arrow's buffers: about 100 MiB, whatever the file's size
    assert working[200] < 200 * 0.6, f"reading 200 MB took {working[200]:.0f} MiB"
