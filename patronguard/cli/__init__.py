"""The ``patronguard`` command line (console script ``patronguard = patronguard.cli:main``).

One module per command group — :mod:`.ils`, :mod:`.retention`, :mod:`.policy`, :mod:`.store`, :mod:`.demo`,
:mod:`.requests`, :mod:`.keys`, :mod:`.audit`, :mod:`.holds`, :mod:`.obligations`, :mod:`.purge` — the
options they share declared once in :mod:`.options`, what they print alike in :mod:`.output`, and the root
group with the error edge (one line per error) in :mod:`.app`.
"""
from .app import cli, main

__all__ = ["cli", "main"]
