"""``patronguard policy``: check a library's policy file."""
from __future__ import annotations

import click


@click.group("policy")
def policy() -> None:
    """The library's policy files."""


@policy.command("check")
@click.argument("file", metavar="FILE")
def policy_check(file) -> None:
    """Validate a policy file against its schema, the ILS's PII map and the after-run expectation suite.

    \b
    Example:
      patronguard policy check policy/westchester.yaml
    """
    from ..policy import check_against_after_suite, load_policy

    loaded = load_policy(file)
    check_against_after_suite(loaded)
    p = loaded.policy.policy
    click.echo(f"{file}: valid — {p.library}, {p.document}, version {p.version}, adopted {p.adopted} "
               f"by {p.adopted_by}; {len(loaded.policy.retention.schedule)} retention rules; sha256 {loaded.sha256[:12]}")
