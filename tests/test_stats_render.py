"""The released statistics for people: CSV with suppressed cells marked, a PNG chart, a one-page HTML summary
(autoescaped) saying what was hidden and why, and the Markdown artifact — no suppressed number anywhere."""
from __future__ import annotations

import itertools

from patronguard.stats.render import StatsRelease, csv_text, html_summary, markdown_summary, write_outputs

HIDDEN_VALUE = 7


def release(branches=("MAIN", "EAST", "WEST")) -> StatsRelease:
    rows = []
    for b, c in itertools.product(branches, ("ADULT", "JUV")):
        hidden = (b, c) in (("WEST", "JUV"), ("EAST", "JUV"))
        rows.append({"branch": b, "patron_category": c, "checkouts": "x" if hidden else 120 + len(b)})
    rows.append({"branch": "*", "patron_category": "*", "checkouts": 999})
    return StatsRelease("Checkouts by branch and category", ("branch", "patron_category"), ("checkouts",),
                        tuple(rows), 10, {"checkouts": {"primary": 1, "secondary": 1}}, "allow",
                        ("Westchester §1(a)",), "2026-01-01 to 2026-06-30")


def test_csv_marks_suppressed_cells_and_never_writes_zero_for_them():
    text = csv_text(release())
    lines = text.splitlines()
    assert lines[0] == "branch,patron_category,checkouts"
    assert "WEST,JUV,x" in lines and "EAST,JUV,x" in lines and "*,*,999" in lines
    assert not any(line.endswith(",0") for line in lines)


def test_html_summary_says_what_was_hidden_and_why_and_escapes(tmp_path):
    html = html_summary(release(branches=("MAIN", "<script>alert(1)</script>", "WEST")))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "at least <strong>10</strong>" in html and "complementary suppression" in html
    assert "1 cell below 10 distinct patrons; 1 more hidden to protect them" in " ".join(html.split())
    assert html.count('class="hidden"') == 1          # WEST/JUV (there is no EAST in this table)


def test_outputs_are_written_and_the_chart_is_a_png(tmp_path):
    paths = write_outputs(release(), tmp_path / "out")
    assert [p.name for p in paths] == ["stats.csv", "stats.png", "summary.html"]
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].stat().st_size > 5_000
    assert 'src="stats.png"' in paths[2].read_text()


def test_markdown_artifact_lists_rows_as_released():
    md = markdown_summary(release())
    assert "k = 10" in md and "| WEST | JUV | x |" in md and "1 cells hidden below k" in md
