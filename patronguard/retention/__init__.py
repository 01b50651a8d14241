"""Retention: the schedule applied to the ILS. So far, the privacy-exposure report."""
from .asof import cutoff_for, resolve_as_of
from .exemptions import exemption_kinds
from .exposure import CategoryExposure, ExposureReport, TableExposure, build_exposure_report
from .render import render_json, render_markdown, render_text
from .report import exposure_report, open_ils, opened_ils, record_report, run_summary, write_report_files

__all__ = [
    "CategoryExposure", "ExposureReport", "TableExposure", "build_exposure_report", "cutoff_for",
    "exemption_kinds", "exposure_report", "open_ils", "opened_ils", "record_report", "render_json", "render_markdown",
    "render_text", "resolve_as_of", "run_summary", "write_report_files",
]
