"""Run the ``patronguard`` command line in-process, as a user would: exit code, stdout, stderr."""
from __future__ import annotations

import pytest

from patronguard.cli import main


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err
