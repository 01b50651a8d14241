"""The Board of Trustees' audit report: one self-contained HTML file (no scripts, no external assets).

Westport §5: every decision is subject to review by the Board. The report reads the audit log once
(streaming, :mod:`.report_data`) and shows, verification first: whether the log verifies, the checks
actually made — pin, MACs, checkpoints and each external witness (:mod:`patronguard.audit.witness_check`),
never more — and its tree head, which the Board can keep as an anchor; then a summary, decisions by
outcome, by clause and by action, law-enforcement requests, emergencies, requests, open obligations,
legal holds, purges (their scope as the Director wrote it, and the rows changed in every table, related
rows of removed patrons included), retention runs and recoveries (the same, table by table), re-pins of
the log (``patronguard audit repin``, with their reasons) and events by kind.

It is rendered from the Jinja2 templates in ``templates/`` with autoescaping on: no text of a payload
reaches the page unescaped. Codes are shown as words (:mod:`.report_labels`) and counts with thousands
separators. The page fits a 1280-pixel window and an A4 or letter sheet: long hashes wrap, tables take
the page's width and wrap their text.
"""
from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from .log import AuditVerification, verify_log
from .report_counts import Tally, scope_as_written, short  # noqa: F401 - re-exported
from .report_data import (  # noqa: F401 - re-exported: classification used by callers and tests
    EMERGENCY_CLAUSES, KNOWN_KINDS, LAW_CLAUSES, BoardReport, gather_report, is_emergency, is_law_enforcement,
)
from .report_labels import (
    ACTION_LABELS, KIND_LABELS, OUTCOME_LABELS, STATE_LABELS, humanize, label, table_description,
)

TEMPLATE = "board_report.html.j2"
DEFAULT_TITLE = "Audit report for the Board of Trustees"
_LABELS = {"kind": KIND_LABELS, "outcome": OUTCOME_LABELS, "action": ACTION_LABELS, "state": STATE_LABELS}


def number(value) -> str:
    """A count with thousands separators (``1,020,001``); a missing one as a dash."""
    if isinstance(value, bool) or value is None or value == "":
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def counted(n, singular: str, plural: str | None = None) -> str:
    """``3, "batch", "batches"`` → ``3 batches``; ``1`` → ``1 batch``."""
    return f"{number(n)} {singular if n == 1 else plural or singular + 's'}"


def stamp(text) -> Markup:
    """``2026-06-30 12:37``: may wrap between the date and the time, never inside either."""
    return Markup(" ").join(Markup('<span class="nowrap">%s</span>') % part for part in str(text).split())


def breakable(name) -> Markup:
    """A long identifier (``borrower_message_transport_preferences``) that may wrap after its underscores:
    the text escaped, then a ``<wbr>`` after each underscore."""
    return Markup("_<wbr>").join(escape(part) for part in str(name).split("_"))


def labelled(counts: Counter, vocabulary: str) -> list[tuple[str, str, int]]:
    """``Counter`` of codes → ``(code, label, count)`` rows, in the order of their labels."""
    mapping = _LABELS[vocabulary]
    return sorted(((code, label(code, mapping), n) for code, n in counts.items()),
                  key=lambda row: (row[1].casefold(), str(row[0])))


@cache
def environment() -> Environment:
    """The report's Jinja2 environment: package templates, autoescape on, undefined names an error."""
    env = Environment(loader=PackageLoader("patronguard.audit", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    env.filters.update(
        num=number, counted=counted, stamp=stamp, breakable=breakable, humanize=humanize, labelled=labelled,
        short=short, describe_table=table_description,
        kind=lambda code: label(code, KIND_LABELS), outcome=lambda code: label(code, OUTCOME_LABELS),
        action=lambda code: label(code, ACTION_LABELS), state=lambda code: label(code, STATE_LABELS),
    )
    return env


def render_board_html(report: BoardReport, *, title: str = DEFAULT_TITLE) -> str:
    """The report as one HTML document (a string)."""
    return environment().get_template(TEMPLATE).render(r=report, title=title)


def render_board_report(store, out_path: Path | str, *, verification: AuditVerification | None = None,
                        table: str = "audit_events", title: str = DEFAULT_TITLE) -> Path:
    """Write the Board's HTML report of the audit log to ``out_path``; return its path."""
    out_path = Path(out_path)
    if verification is None:
        verification = verify_log(store, record=False, table=table)
    page = render_board_html(gather_report(store, verification, table=table), title=title)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)
    return out_path
