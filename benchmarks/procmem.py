"""Memory of this process, from /proc (Linux): the figures the benchmarks compare between sizes."""
from __future__ import annotations

from pathlib import Path


def status_mb(field: str) -> float:
    """A /proc/self/status field in MB (``VmHWM``: peak resident memory; ``VmRSS``: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Linux keeps the parent's high-water mark across exec: start this process's peak afresh."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
