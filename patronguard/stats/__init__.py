"""Disclosure control for anonymised statistics: the pure core the stats queries, CLI and flow call.

Build a :class:`CountTable` (cells with count and distinct patrons; every
marginal total derived), optionally :func:`generalise` it, then
:func:`suppress` it: primary suppression below k distinct patrons
(:func:`minimum_patrons`: policy floor, a request may only raise it) and
complementary suppression after the τ-ARGUS / sdcTable hypercube method,
checked by the LP audit :func:`protection_intervals` against every published
figure, earlier releases included. :func:`refuse_disclosive_request` turns
away identifier and title-level-by-patron-group breakdowns first.

Around that core: the typed request (:mod:`.request`), the counts over the warehouse and the live ILS merged
without double counting (:mod:`.query`), the IMLS Public Libraries Survey figures (:mod:`.pls`), the files for
people (:mod:`.render`: CSV, PNG chart, HTML summary, Markdown) and the steps the CLI and the
``anonymised-stats`` flow share (:mod:`.service`: decide, count and suppress, write, scan, record).
"""
from .audit import protection_intervals, unprotected
from .generalisation import GENERALISATIONS, WIDE_AGE_BANDS, generalise, month_to_quarter, small_cells, wide_age_band
from .refuse import DIRECT_IDENTIFIERS, TITLE_LEVEL, refuse_disclosive_request
from .rules import DEFAULT_MIN_PATRONS, ProtectionRule, minimum_patrons
from .suppression import SUPPRESSED_MARK, SuppressionResult, sensitive_keys, suppress
from .table import TOTAL, Cell, CountTable, key_text
from .request import DIMENSIONS, MEASURES, StatsRequest, parse_stats_request
from .query import ControlledStats, StatsCounts, count_statistics, disclosure_controlled
from .pls import PlsFigures, pls_figures
from .render import StatsRelease, markdown_summary, write_outputs
from .service import count_and_suppress, decide_stats, record_stats, scan_release, write_release

__all__ = [
    "ControlledStats", "DIMENSIONS", "MEASURES", "PlsFigures", "StatsCounts", "StatsRelease", "StatsRequest",
    "count_and_suppress", "count_statistics", "decide_stats", "disclosure_controlled", "markdown_summary",
    "parse_stats_request", "pls_figures", "record_stats", "scan_release", "write_outputs", "write_release",
    "Cell", "CountTable", "DEFAULT_MIN_PATRONS", "DIRECT_IDENTIFIERS", "GENERALISATIONS", "ProtectionRule",
    "SUPPRESSED_MARK", "SuppressionResult", "TITLE_LEVEL", "TOTAL", "WIDE_AGE_BANDS", "generalise", "key_text",
    "minimum_patrons", "month_to_quarter", "protection_intervals", "refuse_disclosive_request", "sensitive_keys",
    "small_cells", "suppress", "unprotected", "wide_age_band",
]
