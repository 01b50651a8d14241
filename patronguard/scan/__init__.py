"""The leak scanner: Presidio's registry with library-aware recognizers, offline.

Everything about to leave the library (statistics, disclosures, data shares) is read in chunks
(:mod:`.readers`), scanned column by column (:class:`.engine.Scanner`: one vectorised pre-filter, Presidio
only on candidate cells, each distinct value once), reported with masked previews only (:mod:`.report`),
and optionally redacted with Presidio's anonymizer (:mod:`.redact`). The known patrons (:mod:`.known`) come
from a CSV or, read-only, from the ILS, and are held in memory only.
"""
from .engine import CellFinding, Scanner
from .known import KnownPatron, load_known_patrons_csv, load_known_patrons_ils
from .mask import mask_preview
from .readers import CellChunk, iter_cell_chunks
from .redact import Redactor, write_redacted_copy
from .report import ColumnVerdict, FindingRecord, FindingsFile, ScanReport
from .settings import ScanSettings, load_scan_settings

__all__ = [
    "CellChunk", "CellFinding", "ColumnVerdict", "FindingRecord", "FindingsFile", "KnownPatron", "Redactor",
    "ScanReport", "ScanSettings", "Scanner", "iter_cell_chunks", "load_known_patrons_csv", "load_known_patrons_ils",
    "load_scan_settings", "mask_preview", "write_redacted_copy",
]
