"""``patronguard request …``: ask the access gateway for a decision.

Registered on the main command group by ``cli.add_command(request)``.
"""
from __future__ import annotations

import click

from .cli_options import policy_option


@click.group("request")
def request() -> None:
    """Access requests to patron data, decided under the library's policy.

    \b
    Example:
      patronguard request decide examples/requests/westchester-s4-telephone.json --policy policy/westchester.yaml
    """


@request.command("decide")
@click.argument("request_file", metavar="REQUEST.json")
@policy_option()
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON (with the full explanation).")
def decide_command(request_file: str, policy: str | None, as_json: bool) -> None:
    """Decide one access request: allow, allow_limited, deny, refer or pending.

    Prints the one-sentence reason to read aloud, the outcome, the fields that
    may be given, the clauses applied, the obligations, and why each rule
    applied. Exit code 0 for every decision (deny is an answer); 2 for a bad
    request or policy file. A written authorization in the request
    (evidence.written_authorization, from `patronguard keys sign`) is verified
    against the Director's public key (PATRONGUARD_DIRECTOR_PUBLIC_KEY, or
    KEYS/director/director.pub under the configured key directory). Nothing is
    recorded — not even the authorization's use, so this is a preview: use
    `request submit` and `request process` to decide for the record.
    See docs/requests.md for the request format.

    \b
    Example:
      patronguard request decide examples/requests/westport-s4-no-subpoena.json --policy policy/westport.yaml --json
    """
    from . import settings
    from .gateway import load_request, render_json, render_text
    from .policy import load_policy
    from .workflow.service import decide_request

    loaded = load_policy(settings.policy_path(policy))
    req = load_request(request_file)
    decision = decide_request(req, loaded)
    click.echo(render_json(decision) if as_json else render_text(decision))

