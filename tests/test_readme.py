"""The README documents every CLI command, and its Quick start is what CI runs."""
from __future__ import annotations

import click

from conftest import ROOT
from patronguard.cli import cli

README = (ROOT / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "patronguard") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out.extend(_commands(command, path))
        else:
            out.append((path, command))
    return out


def test_every_command_is_documented_in_the_readme():
    missing = [path for path, _ in _commands(cli) if f"`{path}" not in README]
    assert missing == []


def test_every_command_has_help_with_an_example():
    for path, command in _commands(cli):
        assert command.help and "Example:" in command.help, path
        assert "patronguard" in command.help.split("Example:")[1], path


def test_ci_runs_the_readme_test_command_verbatim():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("\n", 1)[1] for b in quick.split("```")[1::2]]
    commands = [line.strip() for block in blocks for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2, commands
    assert "patronguard demo" in commands[0]
    assert commands[1] in (ROOT / ".ci/run").read_text()
