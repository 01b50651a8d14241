"""``patronguard stats`` on the command line: bad names and injection refused in one line, suppressed
cells marked, the gateway first, the request audited."""
from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from cli_helpers import run_cli
from conftest import ROOT, SMALL_SPEC

POLICY = str(ROOT / "policy/westchester.yaml")


@pytest.fixture
def urls(small_ils_sqlite_copy, tmp_path):
    return f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"


def stats(capsys, urls, *args):
    ils, store = urls
    return run_cli(capsys, "stats", "--db", ils, "--store", store, "--policy", POLICY, *args)


BAD = [
    # (arguments, the parameter the one line must name)
    (["--by", "branch; DROP TABLE items"], "--by"),
    (["--by", "month,branch'--"], "--by"),
    (["--by", "br\u0430nch"], "--by"),                        # Cyrillic а: a look-alike, not "branch"
    (["--by", "ｂranch"], "--by"),                             # fullwidth b
    (["--by", "borrowernumber"], "--by"),
    (["--by", "month,year"], "--by"),
    (["--by", "location", "--where", "location=NOPE"], "--where"),
    (["--by", "month", "--where", "location=GEN' OR '1'='1"], "--where"),
    (["--by", "month", "--measures", "checkouts;DELETE FROM borrowers"], "--measures"),
    (["--by", "month", "--measures", "titles"], "--measures"),
    (["--by", "day", "--measures", "distinct_patrons"], "--measures"),
    (["--by", "month", "--where", "branch=MAIN' OR '1'='1"], "--where"),
    (["--by", "month", "--where", "branch=MAIN;--"], "--where"),
    (["--by", "month", "--where", "cardnumber=123"], "--where"),
    (["--by", "month", "--where", "branch"], "--where"),
    (["--by", "month", "--where", "branch=NOWHERE"], "--where"),
    (["--by", "month", "--where", "age_band=3-7"], "--where"),
    (["--by", "month", "--where", "month=2026-13"], "--where"),
    (["--by", "month", "--from", "2026-02-30"], "--from"),
    (["--by", "month", "--from", "2026-01-01'; DROP TABLE issues; --"], "--from"),
    (["--by", "month", "--to", "yesterday"], "--to"),
    (["--by", "month", "--from", "2026-03-01", "--to", "2026-02-01"], "--from"),
    (["--by", "month", "--min-count", "3"], "--min-count"),
    (["--by", "month", "--min-count", "ten"], "--min-count"),
    (["--by", "month", "--requester", "staff\"; DROP TABLE x"], "--requester"),
]


@pytest.mark.parametrize("args,parameter", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_names_and_injection_are_refused_in_one_line(capsys, urls, args, parameter):
    args = args + ([] if "--requester" in args else ["--requester", "circ-desk-7"])
    code, out, err = stats(capsys, urls, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert parameter in lines[0] or (parameter == "--by" and "refused" in lines[0]), lines[0]
    assert "Traceback" not in err
    # nothing was dropped or changed in the ILS
    engine = sa.create_engine(urls[0])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM issues")).scalar() > 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar() > 0
    engine.dispose()


def test_csv_marks_suppressed_cells_and_never_shows_small_counts(capsys, urls, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = stats(capsys, urls, "--by", "quarter,branch,patron_category",
                           "--measures", "checkouts,distinct_patrons",
                           "--requester", "circ-desk-7", "--min-count", "10", "--out", str(out_dir), "--json")
    assert code == 0, err
    printed = json.loads(out)
    rows = list(csv.DictReader(io.StringIO((out_dir / "stats.csv").read_text())))
    assert rows and rows == [{k: str(v) for k, v in r.items()} for r in printed["rows"]]
    marked = [r for r in rows if r["checkouts"] == "x"]
    shown = [r for r in rows if r["checkouts"] != "x"]
    assert marked, "a quarter × branch × category table of a small library has small cells"
    assert all(r["checkouts"] != "0" for r in marked)
    grand = next(r for r in rows if r["quarter"] == r["branch"] == r["patron_category"] == "*")
    assert grand["checkouts"] == str(SMALL_SPEC["loans"])
    # distinct patrons below k are marked, not shown
    assert all(r["distinct_patrons"] in ("x", "", "0") or int(r["distinct_patrons"]) >= 10 for r in rows)
    assert any(r["distinct_patrons"] == "x" for r in rows)
    # a released interior cell of a quarter has at least k patrons behind it: the table's own patrons say so
    assert printed["measures"]["checkouts"]["primary"] >= 1 and shown
    # the request, the decision and what was released are in the audit log
    engine = sa.create_engine(urls[1])
    with engine.connect() as conn:
        payloads = [json.loads(p) for (p,) in conn.execute(
            sa.text("SELECT payload FROM audit_events WHERE kind = 'anonymised-statistics'"))]
    engine.dispose()
    assert payloads and payloads[-1]["requester"] == "circ-desk-7" and payloads[-1]["decision"] == "allow"


def test_raising_k_hides_more(capsys, urls):
    def hidden(k: str) -> int:
        code, out, err = stats(capsys, urls, "--by", "year,branch", "--requester", "circ-desk-7",
                               "--min-count", k, "--json")
        assert code == 0, err
        return sum(r["checkouts"] == "x" for r in json.loads(out)["rows"])

    assert hidden("100") > hidden("10")


def test_pls_command_prints_the_figures(capsys, urls):
    code, out, err = run_cli(capsys, "stats", "pls", "--year", "2025", "--db", urls[0], "--store", urls[1], "--json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["physical_circulation_553"] >= figures["childrens_circulation_551"] > 0
    assert figures["registered_users"] > 0 and "553" in figures["definitions"]
    code, _out, err = run_cli(capsys, "stats", "pls", "--year", "25x", "--db", urls[0], "--store", urls[1])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--year" in err


def test_the_gateway_decides_first(capsys, urls, tmp_path):
    """A policy that gives statistics to the board only: staff are refused (exit 3), nothing is counted."""
    text = (ROOT / "policy/westchester.yaml").read_text()
    staff_rule = "require: {field: requester.role, in: [staff, director, designee, board]}"
    assert staff_rule in text
    board_only = tmp_path / "board-only.yaml"
    board_only.write_text(text.replace(staff_rule, "require: {field: requester.role, in: [board]}"))
    ils, store = urls
    code, out, err = run_cli(capsys, "stats", "--db", ils, "--store", store, "--policy", str(board_only),
                             "--by", "year", "--requester", "circ-desk-7", "--json")
    assert code == 3, err
    assert out.startswith("REFUSED:") and "staff" in out
    engine = sa.create_engine(store)
    with engine.connect() as conn:   # the refusal is audited; nothing was released
        payloads = [json.loads(p) for (p,) in conn.execute(
            sa.text("SELECT payload FROM audit_events WHERE kind = 'anonymised-statistics'"))]
    engine.dispose()
    assert [(p["decision"], p["released"]) for p in payloads] == [("deny", None)]
