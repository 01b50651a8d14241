"""The released statistics for people: a CSV (suppressed cells marked), a PNG chart and a one-page HTML summary
that says what was suppressed and why, and the same summary as Markdown (the Prefect artifact).

Only released rows are drawn or listed: a suppressed cell appears as the mark, never as a number, and the chart
leaves it out (its bar is absent and the legend says how many were hidden). Jinja2 autoescapes the HTML.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from jinja2 import Environment, PackageLoader, select_autoescape

MARK = "x"
TEMPLATE = "stats_summary.html.j2"


@dataclass(frozen=True)
class StatsRelease:
    """What was released, ready to show: the rows as released (dimension values, ``*`` for a total, each
    measure's count or the mark), the dimensions and measures, k, and per measure how many cells were hidden
    below k (primary) and to protect them (secondary)."""

    title: str
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    rows: tuple[dict, ...]
    k: int
    suppressed: dict[str, dict[str, int]]      # measure -> {"primary": n, "secondary": n}
    decision: str
    clauses: tuple[str, ...]
    period: str

    @property
    def interior(self) -> list[dict]:
        return [r for r in self.rows if all(r.get(d) != "*" for d in self.dimensions)]


def release_from(controlled, *, title: str, decision, period: str) -> StatsRelease:
    """A :class:`StatsRelease` from the disclosure-controlled result (:class:`patronguard.stats.query.ControlledStats`)."""
    summary = controlled.summary()
    suppressed = {m: {"primary": int(v.get("primary", 0)), "secondary": int(v.get("secondary", 0))}
                  for m, v in summary["measures"].items()}
    return StatsRelease(title=title, dimensions=tuple(summary["dimensions"]),
                        measures=tuple(controlled.counts.values), rows=tuple(controlled.rows()), k=int(summary["k"]),
                        suppressed=suppressed, decision=decision.outcome, clauses=tuple(decision.clauses),
                        period=period)


def csv_text(release: StatsRelease) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(release.dimensions) + list(release.measures), lineterminator="\n")
    writer.writeheader()
    for row in release.rows:
        writer.writerow({k: row.get(k, "") for k in writer.fieldnames})
    return out.getvalue()


def write_chart(release: StatsRelease, path: Path) -> Path:
    """A bar chart of the first measure over the first dimension (grouped by the second when there is one);
    suppressed cells are not drawn."""
    import matplotlib

    matplotlib.use("Agg")               # no display; never a window
    import matplotlib.pyplot as plt

    measure = release.measures[0]
    first = release.dimensions[0]
    second = release.dimensions[1] if len(release.dimensions) > 1 else None
    rows = [r for r in release.interior if len(release.dimensions) <= 2 or
            all(r.get(d) == "*" for d in release.dimensions[2:])] or release.interior
    xs = sorted({str(r[first]) for r in rows})
    groups = sorted({str(r[second]) for r in rows}) if second else [""]
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
    width = 0.8 / max(len(groups), 1)
    hidden = 0
    for g, group in enumerate(groups):
        heights = []
        for x in xs:
            value = next((r.get(measure) for r in rows if str(r[first]) == x
                          and (not second or str(r[second]) == group)), 0)
            if value == MARK:
                hidden += 1
                value = 0
            heights.append(float(value or 0))
        positions = [i + g * width - 0.4 + width / 2 for i in range(len(xs))]
        ax.bar(positions, heights, width=width, label=group or measure)
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels(xs, rotation=45 if len(xs) > 6 else 0, ha="right" if len(xs) > 6 else "center")
    ax.set_ylabel(measure.replace("_", " "))
    drawn = " and ".join(d.replace("_", " ") for d in release.dimensions[:2])
    ax.set_title(f"{measure.replace('_', ' ').capitalize()} by {drawn}"
                 + (f" — {hidden} suppressed cell{'s' if hidden != 1 else ''} not drawn" if hidden else ""))
    if second:
        ax.legend(title=second.replace("_", " "), fontsize="small", ncols=min(len(groups), 4))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _environment() -> Environment:
    return Environment(loader=PackageLoader("patronguard.stats", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def html_summary(release: StatsRelease, chart_name: str | None = "stats.png") -> str:
    rows = [(row, any(row.get(d) == "*" for d in release.dimensions)) for row in release.rows]
    return _environment().get_template(TEMPLATE).render(r=release, rows=rows, chart=chart_name, mark=MARK)


def markdown_summary(release: StatsRelease, limit: int = 40) -> str:
    """The summary as Markdown (a Prefect artifact): what was asked, the decision, what was hidden and why, and
    the first rows as released."""
    lines = [f"# {release.title}", "",
             f"- period: {release.period}", f"- by: {', '.join(release.dimensions)}; measures: "
             f"{', '.join(release.measures)}",
             f"- gateway: {release.decision} ({'; '.join(release.clauses) or 'no clause'})",
             f"- k = {release.k}: a released cell counts at least {release.k} distinct patrons",
             ""]
    for measure, n in release.suppressed.items():
        lines.append(f"- {measure}: {n['primary']} cells hidden below k, {n['secondary']} more hidden so they "
                     f"cannot be worked out from the totals")
    header = list(release.dimensions) + list(release.measures)
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in release.rows[:limit]:
        lines.append("| " + " | ".join(str(row.get(h, "")) for h in header) + " |")
    if len(release.rows) > limit:
        lines.append(f"\n({len(release.rows) - limit} more rows in stats.csv)")
    return "\n".join(lines)


def write_outputs(release: StatsRelease, folder: Path) -> list[Path]:
    """stats.csv, stats.png and summary.html into ``folder`` (created); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "stats.csv", folder / "stats.png", folder / "summary.html"]
    paths[0].write_text(csv_text(release), encoding="utf-8")
    write_chart(release, paths[1])
    paths[2].write_text(html_summary(release, chart_name=paths[1].name), encoding="utf-8")
    return paths

