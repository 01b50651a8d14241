"""Strict inputs everywhere (issue 8, deliverable 6): every bad input below is one line on stderr,
the documented exit code (2: bad input or configuration), and nothing written — every file under
the test's folder byte-identical (the SQLite ILS and store included) and no file created.

The cases are a table: the probe's findings (bool read as a number, duplicate YAML and JSON keys
taking the last, huge, deep and endless files, empty and absurd dates, non-ASCII digits read as
numbers, outputs over a database or an existing file) and the ones added while fixing them.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from checksums import table_checksums
from cli_helpers import run_cli
from conftest import ROOT

POLICY_TEXT = (ROOT / "policy/westchester.yaml").read_text()
#: the line of the policy's first ``keep_days`` (the duplicate-key case names it and the one after)
KEEP_DAYS_LINE = POLICY_TEXT[:POLICY_TEXT.index("      keep_days: 60\n")].count("\n") + 1
REQUEST = {"request_id": "t-1", "action": "list_checkouts", "requester": {"role": "patron", "borrowernumber": 42},
           "subject": {"borrowernumber": 42}, "channel": "in_person", "fields": ["titles"],
           "evidence": {"identification": "current", "barcode": "full"}}


def policy(old: str, new: str) -> str:
    assert old in POLICY_TEXT, old
    return POLICY_TEXT.replace(old, new, 1)


def request_json(text_patch: tuple[str, str] | None = None, **changes) -> str:
    text = json.dumps({**REQUEST, **changes}, indent=2)
    if text_patch:
        assert text_patch[0] in text, text_patch[0]
        text = text.replace(*text_patch, 1)
    return text


def nested_json(levels: int) -> str:
    """A request whose evidence.written_authorization nests ``levels`` objects deep."""
    text = json.dumps({k: v for k, v in REQUEST.items() if k != "evidence"})
    return text[:-1] + ', "evidence": {"written_authorization": ' + '{"a": ' * levels + "1" + "}" * levels + "}}"


ALIAS_BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                     for p, c in zip([None, *"abcdefg"], "abcdefgh")) + "policy: [*h, *h, *h]\n"


@dataclass
class Case:
    id: str
    args: list[str]
    needles: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    code: int = 2
    prepare: Callable[[Path], None] | None = None


CASES = [
    # -- the policy file: strict types, dates, duplicate keys, limits ------------------------------
    Case("policy keep_days true", ["policy", "check", "{tmp}/p.yaml"],
         ["p.yaml: retention.schedule[0].keep_days: Input should be a valid integer", "expected e.g. 30"],
         {"p.yaml": policy("keep_days: 60", "keep_days: true")}),
    Case("policy keep_days 60.0", ["policy", "check", "{tmp}/p.yaml"], ["retention.schedule[0].keep_days"],
         {"p.yaml": policy("keep_days: 60", "keep_days: 60.0")}),
    Case("policy keep_days quoted", ["policy", "check", "{tmp}/p.yaml"], ["retention.schedule[0].keep_days"],
         {"p.yaml": policy("keep_days: 60", 'keep_days: "60"')}),
    Case("policy keep_days 10**40", ["policy", "check", "{tmp}/p.yaml"],
         ["retention.schedule[0].keep_days", "less than or equal to 36500"],
         {"p.yaml": policy("keep_days: 60", f"keep_days: {10**40}")}),
    Case("policy keep_days arabic digits", ["policy", "check", "{tmp}/p.yaml"], ["retention.schedule[0].keep_days"],
         {"p.yaml": policy("keep_days: 60", "keep_days: ٦٠")}),
    Case("policy duplicate key", ["policy", "check", "{tmp}/p.yaml"],
         [f"p.yaml: duplicate key 'keep_days' at line {KEEP_DAYS_LINE + 1}", f"(first at line {KEEP_DAYS_LINE})"],
         {"p.yaml": policy("      keep_days: 60\n", "      keep_days: 60\n      keep_days: 9999\n")}),
    Case("policy duplicate top-level section", ["policy", "check", "{tmp}/p.yaml"], ["duplicate key 'policy'"],
         {"p.yaml": POLICY_TEXT + "\npolicy: {library: Other}\n"}),
    Case("policy adopted empty", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "'' is not a date"],
         {"p.yaml": policy("adopted: 2024-01-16", 'adopted: ""')}),
    Case("policy adopted year 1", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "0001-01-01 is out of range"],
         {"p.yaml": policy("adopted: 2024-01-16", "adopted: 0001-01-01")}),
    Case("policy adopted year 99999", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "is not a date"],
         {"p.yaml": policy("adopted: 2024-01-16", "adopted: 99999-01-16")}),
    Case("policy adopted unix time", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "is not a date"],
         {"p.yaml": policy("adopted: 2024-01-16", "adopted: 1705363200")}),
    Case("policy adopted date-time", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "is not a date"],
         {"p.yaml": policy("adopted: 2024-01-16", "adopted: 2024-01-16 10:00:00")}),
    Case("policy adopted arabic digits", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "is not a date"],
         {"p.yaml": policy("adopted: 2024-01-16", "adopted: ٢٠٢٤-٠١-١٦")}),
    Case("policy adopted Feb 30", ["policy", "check", "{tmp}/p.yaml"], ["policy.adopted", "not a day of the calendar"],
         {"p.yaml": policy("adopted: 2024-01-16", 'adopted: "2024-02-30"')}),
    Case("policy nested too deep", ["policy", "check", "{tmp}/p.yaml"], ["p.yaml: nested more than 32 levels deep"],
         {"p.yaml": POLICY_TEXT + "extra: " + "[" * 40 + "]" * 40 + "\n"}),
    Case("policy alias bomb", ["policy", "check", "{tmp}/p.yaml"], ["expands to more than 1,000,000 values"],
         {"p.yaml": ALIAS_BOMB}),
    Case("policy recursive alias", ["policy", "check", "{tmp}/p.yaml"], ["recursive alias"],
         {"p.yaml": "policy: &a\n  - *a\n"}),
    Case("policy over the size limit", ["policy", "check", "{tmp}/p.yaml"],
         ["p.yaml: larger than the limit of 5,242,880 bytes"], {"p.yaml": POLICY_TEXT + "#" * (5 << 20)}),
    Case("policy over a configured limit", ["policy", "check", "{root}/policy/westchester.yaml"],
         ["larger than the limit of 1,000 bytes", "PATRONGUARD_MAX_INPUT_BYTES"],
         env={"PATRONGUARD_MAX_INPUT_BYTES": "1000"}),
    Case("size limit not ASCII", ["policy", "check", "{root}/policy/westchester.yaml"],
         ["PATRONGUARD_MAX_INPUT_BYTES: '١٠٠٠'"], env={"PATRONGUARD_MAX_INPUT_BYTES": "١٠٠٠"}),
    Case("policy is /dev/zero", ["policy", "check", "/dev/zero"], ["/dev/zero: not a regular file"]),
    Case("policy is a directory", ["policy", "check", "{tmp}"], ["not a regular file"]),
    Case("policy in a report", ["retention", "report", "--db", "{ils_url}", "--policy", "{tmp}/p.yaml",
                                "--store", "{store_url}"], ["p.yaml: retention.schedule[0].keep_days"],
         {"p.yaml": policy("keep_days: 60", "keep_days: false")}),
    # -- the request file ----------------------------------------------------------------------------
    Case("request borrowernumber true", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: subject.borrowernumber: Input should be a valid integer", "expected e.g. 4211"],
         {"r.json": request_json(subject={"borrowernumber": True})}),
    Case("request borrowernumber string", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["subject.borrowernumber: Input should be a valid integer"],
         {"r.json": request_json(subject={"borrowernumber": "42"})}),
    Case("request borrowernumber arabic digit", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["subject.borrowernumber"], {"r.json": request_json(subject={"borrowernumber": "٣"})}),
    Case("request borrowernumber 2**31", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["subject.borrowernumber: Input should be less than or equal to 2147483647"],
         {"r.json": request_json(subject={"borrowernumber": 2**31})}),
    Case("request borrowernumber 10**40", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: a number with more than 20 digits"], {"r.json": request_json(subject={"borrowernumber": 10**40})}),
    Case("request borrowernumber float", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["subject.borrowernumber"], {"r.json": request_json(subject={"borrowernumber": 42.0})}),
    Case("request evidence bool as 1", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["evidence.authenticated: Input should be a valid boolean"],
         {"r.json": request_json(evidence={"authenticated": 1})}),
    Case("request duplicate key", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: duplicate key 'borrowernumber' at line 7"],
         {"r.json": request_json(('"borrowernumber": 42\n  },\n  "subject"',
                                  '"borrowernumber": 42,\n    "borrowernumber": 7\n  },\n  "subject"'))}),
    Case("request duplicate top-level key", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["duplicate key 'action'"], {"r.json": request_json(('"channel"', '"action": "purge", "channel"'))}),
    Case("request NaN", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"], ["NaN is not a JSON number"],
         {"r.json": request_json(('"borrowernumber": 42\n  },\n  "channel"', '"borrowernumber": NaN\n  },\n  "channel"'))}),
    Case("request nested too deep", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: nested more than 32 levels deep"], {"r.json": nested_json(200)}),
    Case("request nested beyond recursion", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: nested more than 32 levels deep"], {"r.json": nested_json(100_000)}),
    Case("request is /dev/zero", ["request", "decide", "/dev/zero", "--policy", "{policy}"],
         ["/dev/zero: not a regular file"]),
    Case("request too big", ["request", "decide", "{tmp}/r.json", "--policy", "{policy}"],
         ["r.json: larger than the limit"], {"r.json": request_json() + " " * (5 << 20)}),
    Case("request YAML duplicate key", ["request", "decide", "{tmp}/r.yaml", "--policy", "{policy}"],
         ["r.yaml: duplicate key 'channel' at line 2"], {"r.yaml": "channel: in_person\nchannel: telephone\n"}),
    Case("keys sign a request with duplicate keys", ["keys", "sign", "{tmp}/r.json", "--scope", "disclose",
                                                      "--out", "{tmp}/auth.json"],
         ["duplicate key 'action'"], {"r.json": request_json(('"channel"', '"action": "purge", "channel"'))}),
    # -- signed documents named on the command line -----------------------------------------------------
    Case("purge authorization with duplicate keys", ["purge", "--db", "{ils_url}", "--store", "{store_url}",
                                                     "--scope", "patron:42", "--authorization", "{tmp}/auth.json"],
         ["--authorization: {tmp}/auth.json: duplicate key 'signature' at line 1"],
         {"auth.json": '{"signature": "a", "signature": "b"}'}),
    Case("hold release authorization nested too deep", ["holds", "release", "1", "--store", "{store_url}",
                                                        "--authorization", "{tmp}/auth.json"],
         ["--authorization", "nested more than 32 levels deep"], {"auth.json": '{"a": ' * 50 + "1" + "}" * 50}),
    Case("request evidence authorization is /dev/zero", ["request", "evidence", "x", "--store", "{store_url}",
                                                         "--by", "desk", "--authorization", "/dev/zero"],
         ["--authorization: /dev/zero: not a regular file"]),
    Case("keys verify authorization NaN", ["keys", "verify", "{tmp}/auth.json", "{tmp}/r.json"],
         ["AUTHORIZATION.json", "NaN is not a JSON number"],
         {"auth.json": '{"expires_at": NaN}', "r.json": request_json()}),
    Case("keys sign delegation too big", ["keys", "sign", "{tmp}/r.json", "--scope", "disclose",
                                          "--delegation", "{tmp}/deputy.json"], ["--delegation", "larger than the limit"],
         {"r.json": request_json(), "deputy.json": "{}" + " " * (5 << 20)}),
    # -- dates and numbers on the command line ------------------------------------------------------------
    Case("as-of empty", ["retention", "report", "--db", "{ils_url}", "--policy", "{policy}", "--store", "{store_url}",
                         "--as-of", ""], ["--as-of: '' is not a date", "expected YYYY-MM-DD from 1900-01-01 on"]),
    Case("as-of year 1", ["retention", "report", "--db", "{ils_url}", "--policy", "{policy}", "--store", "{store_url}",
                          "--as-of", "0001-01-01"], ["--as-of: 0001-01-01 is out of range"]),
    Case("as-of year 99999", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store",
                              "{store_url}", "--as-of", "99999-01-01"], ["--as-of: '99999-01-01' is not a date"]),
    Case("as-of arabic digits", ["retention", "verify", "--db", "{ils_url}", "--store", "{store_url}",
                                 "--as-of", "٢٠٢٦-٠٦-٣٠"], ["--as-of", "is not a date"]),
    Case("until empty", ["ils", "init", "--db", "sqlite:///{tmp}/new.db", "--until", ""], ["--until: '' is not a date"]),
    Case("until year 1800", ["ils", "init", "--db", "sqlite:///{tmp}/new.db", "--until", "1800-01-01"],
         ["--until: 1800-01-01 is out of range"]),
    Case("patrons arabic digits", ["ils", "init", "--db", "sqlite:///{tmp}/new.db", "--patrons", "٣٠٠"],
         ["--patrons: '٣٠٠' is not a whole number", "ASCII digits"]),
    Case("patrons fullwidth digits", ["ils", "init", "--db", "sqlite:///{tmp}/new.db", "--patrons", "３００"],
         ["--patrons"]),
    Case("seed 10**40", ["ils", "init", "--db", "sqlite:///{tmp}/new.db", "--seed", str(10**40)], ["--seed"]),
    Case("batch size arabic digits", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store",
                                      "{store_url}", "--batch-size", "١٠٠"], ["--batch-size", "ASCII digits"]),
    Case("lock wait nan", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store", "{store_url}",
                           "--lock-wait", "nan"], ["--lock-wait: 'nan' is not a number"]),
    Case("lock wait inf", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store", "{store_url}",
                           "--lock-wait", "inf"], ["--lock-wait"]),
    Case("lock wait arabic digit", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store",
                                    "{store_url}", "--lock-wait", "٣"], ["--lock-wait"]),
    Case("lock wait negative", ["retention", "run", "--db", "{ils_url}", "--policy", "{policy}", "--store",
                                "{store_url}", "--lock-wait", "-1"], ["--lock-wait: -1 is out of range"]),
    Case("purge scope arabic digit", ["purge", "--db", "{ils_url}", "--store", "{store_url}",
                                      "--scope", "patron:٣", "--print-request"], ["--scope: 'patron:٣' is not valid"]),
    Case("hold id arabic digit", ["holds", "release", "٣", "--store", "{store_url}"], ["HOLD_ID"]),
    Case("obligation id 10**40", ["obligations", "close", str(10**40), "--store", "{store_url}", "--by", "x",
                                  "--note", "n"], ["OBLIGATION_ID", "is not a whole number"]),
    Case("hold id 2**63", ["holds", "release", str(2**63), "--store", "{store_url}"], ["HOLD_ID", "out of range"]),
    Case("expires arabic digits", ["keys", "sign", "{tmp}/r.json", "--scope", "disclose", "--expires", "٧d"],
         ["--expires"], {"r.json": request_json()}),
    # -- outputs: never over a database, never over a file without --force --------------------------------
    Case("audit report over the ILS", ["audit", "report", "--store", "{store_url}", "--out", "{ils}"],
         ["--out", "ils.db is a database; refusing to overwrite it"]),
    Case("audit report over the ILS with --force", ["audit", "report", "--store", "{store_url}", "--out", "{ils}",
                                                    "--force"], ["is a database", "not even with --force"]),
    Case("audit report over a file", ["audit", "report", "--store", "{store_url}", "--out", "{tmp}/board.html"],
         ["board.html already exists; pass --force"], {"board.html": "<p>last year's report</p>"}),
    Case("audit report into a directory", ["audit", "report", "--store", "{store_url}", "--out", "{tmp}"],
         ["is a directory"]),
    Case("audit report under a file", ["audit", "report", "--store", "{store_url}", "--out", "{tmp}/a.txt/b.html"],
         ["a.txt exists and is not a directory"], {"a.txt": "x"}),
    Case("keys sign over the ILS", ["keys", "sign", "{tmp}/r.json", "--scope", "disclose", "--out", "{ils}"],
         ["is a database"], {"r.json": request_json()}),
    Case("keys sign over a file", ["keys", "sign", "{tmp}/r.json", "--scope", "disclose", "--out", "{tmp}/r.json"],
         ["r.json already exists"], {"r.json": request_json()}),
    Case("keys delegate over a file", ["keys", "delegate", "deputy", "--scope", "disclose", "--until", "30d",
                                       "--out", "{tmp}/deputy.json"], ["deputy.json already exists"],
         {"deputy.json": "{}"}),
    Case("report files already there", ["retention", "report", "--db", "{ils_url}", "--policy", "{policy}",
                                        "--store", "{store_url}", "--as-of", "2026-06-30", "--out", "{tmp}/reports"],
         ["exposure-2026-06-30.json already exists; pass --force"],
         {"reports/exposure-2026-06-30.json": "{}", "reports/exposure-2026-06-30.md": "# old"}),
    Case("report --out is the ILS", ["retention", "report", "--db", "{ils_url}", "--policy", "{policy}",
                                     "--store", "{store_url}", "--as-of", "2026-06-30", "--out", "{ils}"],
         ["--out", "ils.db exists and is not a directory"]),
    Case("ils init into a text file", ["ils", "init", "--db", "sqlite:///{tmp}/notes.txt"],
         ["notes.txt exists and is not a SQLite database"], {"notes.txt": "a librarian's notes"}),
    Case("ils init into an empty text file", ["ils", "init", "--db", "sqlite:///{tmp}/notes.txt"],
         ["notes.txt is an existing empty file"], {"notes.txt": ""}),
    Case("ils init into a directory", ["ils", "init", "--db", "sqlite:///{tmp}"], ["is not a regular file"]),
    Case("ils init under a file", ["ils", "init", "--db", "sqlite:///{tmp}/a.txt/ils.db"],
         ["a.txt exists and is not a directory"], {"a.txt": "x"}),
    Case("ils init into the store", ["ils", "init", "--db", "{store_url}"], ["is a patronguard store, not an ILS"],
         prepare=lambda tmp: run_cli_quiet("store", "migrate", "--store", f"sqlite:///{tmp}/store.db")),
    Case("ils init into the ILS", ["ils", "init", "--db", "{ils_url}"], ["already has Koha tables"]),
    Case("demo over someone's database", ["demo", "--dir", "{tmp}/d", "--policy", "{policy}"], ["d/ils.db exists and is not a demo ILS"],
         prepare=lambda tmp: _sqlite_with_table(tmp / "d" / "ils.db")),
    Case("demo over a text file", ["demo", "--dir", "{tmp}/d", "--policy", "{policy}"], ["d/ils.db exists and is not a demo ILS"],
         {"d/ils.db": "not a database"}),
    Case("demo store is an ILS", ["demo", "--dir", "{tmp}", "--policy", "{policy}"], ["patronguard.db exists and is not a patronguard store"],
         prepare=lambda tmp: shutil.copyfile(tmp / "ils.db", tmp / "patronguard.db")),
    Case("demo dir is a file", ["demo", "--dir", "{tmp}/notes.txt", "--policy", "{policy}"], ["notes.txt exists and is not a directory"],
         {"notes.txt": "x"}),
]


def run_cli_quiet(*args: str) -> None:
    from patronguard.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code in (0, None)


def _sqlite_with_table(path: Path) -> None:
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
        conn.execute("INSERT INTO accounts VALUES (1, 'the finance office')")


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: path → sha256 (folders: "dir")."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_documented_exit_nothing_written(case, capsys, monkeypatch, tmp_path,
                                                              small_ils_sqlite_copy):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if case.prepare:
        case.prepare(tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    places = {"tmp": str(tmp_path), "ils": str(small_ils_sqlite_copy), "ils_url": f"sqlite:///{small_ils_sqlite_copy}",
              "store_url": f"sqlite:///{tmp_path / 'store.db'}", "policy": str(ROOT / "policy/westchester.yaml"),
              "root": str(ROOT)}
    args = [a.format(**places) for a in case.args]
    ils_tables = table_checksums(places["ils_url"])
    files = snapshot(tmp_path)

    code, out, err = run_cli(capsys, *args)

    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("patronguard:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert errors[0].startswith("patronguard: error: "), err
    assert code == case.code, err
    for needle in case.needles:
        assert needle.format(**places) in errors[0], errors[0]
    assert snapshot(tmp_path) == files
    assert table_checksums(places["ils_url"]) == ils_tables


# ----------------------------------------------------------------------------- what still works
def test_force_overwrites_a_file_but_never_a_database(capsys, tmp_path, small_ils_sqlite_copy):
    args = ["retention", "report", "--db", f"sqlite:///{small_ils_sqlite_copy}", "--policy",
            str(ROOT / "policy/westchester.yaml"), "--store", f"sqlite:///{tmp_path / 's.db'}",
            "--as-of", "2026-06-30", "--out", str(tmp_path / "reports")]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    report = tmp_path / "reports" / "exposure-2026-06-30.json"
    report.write_text("{}")
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "already exists; pass --force" in err and report.read_text() == "{}"
    code, _, err = run_cli(capsys, *args, "--force")
    assert code == 0, err
    assert json.loads(report.read_text())["as_of"] == "2026-06-30"

    board = tmp_path / "board.html"
    board.write_text("old")
    code, _, err = run_cli(capsys, "audit", "report", "--store", f"sqlite:///{tmp_path / 's.db'}", "--out", str(board),
                           "--force")
    assert code == 0, err
    assert board.read_text() != "old" and "<html" in board.read_text().lower()


def test_sqlite_paths_with_spaces_work(capsys, tmp_path, small_ils_sqlite_master):
    folder = tmp_path / "Library data #1 (copy)"
    folder.mkdir()
    ils = folder / "ils copy.db"
    shutil.copyfile(small_ils_sqlite_master, ils)
    store = f"sqlite:///{folder / 'patron guard.db'}"
    policy_file = str(ROOT / "policy/westchester.yaml")
    code, out, err = run_cli(capsys, "retention", "report", "--db", f"sqlite:///{ils}", "--policy", policy_file,
                             "--store", store, "--as-of", "2026-06-30", "--json")
    assert code == 0, err
    assert json.loads(out)["totals"]["past_retention"] > 0
    code, out, err = run_cli(capsys, "retention", "run", "--db", f"sqlite:///{ils}", "--policy", policy_file,
                             "--store", store, "--as-of", "2026-06-30", "--json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "retention", "verify", "--db", f"sqlite:///{ils}", "--policy", policy_file,
                             "--store", store, "--as-of", "2026-06-30")
    assert code == 0 and "verified" in out, err
    # the run lock sits next to the ILS (its path read back from the URI form), nothing landed elsewhere
    others = sorted(p.name for p in folder.iterdir() if not p.name.startswith("patron guard.db"))
    assert others == ["ils copy.db", "ils copy.db.patronguard-lock"]
    assert not Path("file:").exists()


def test_yaml_merge_keys_may_be_overridden_and_json_nesting_within_limits_loads(tmp_path):
    from patronguard.datafiles import read_structured
    from patronguard.errors import InputError

    merged = tmp_path / "m.yaml"
    merged.write_text("base: &b {a: 1, b: 2}\nmine:\n  <<: *b\n  b: 3\n")
    assert read_structured(merged, InputError)[0]["mine"] == {"a": 1, "b": 3}
    deep = tmp_path / "d.json"
    deep.write_text("{\"a\": " * 32 + "1" + "}" * 32)
    assert read_structured(deep, InputError)[0]["a"]["a"]


def test_every_output_option_is_guarded_and_has_force():
    from patronguard.cli import cli
    from patronguard.cli.options import OUTPUT_FILES, AsciiInt, iter_commands

    commands = dict(iter_commands(cli))
    for path, name in [*OUTPUT_FILES.items(), ("retention report", "out_dir")]:
        params = {p.name: p for p in commands[path].params}
        assert name in params and "force" in params, path
    for path, command in commands.items():
        for param in command.params:
            assert type(param.type).__name__ not in ("IntParamType", "IntRange", "FloatParamType", "FloatRange"), \
                (path, param.name)
    assert isinstance({p.name: p for p in commands["ils init"].params}["patrons"].type, AsciiInt)
