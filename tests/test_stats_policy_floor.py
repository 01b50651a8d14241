"""k comes from the policy (statistics.min_patrons_per_cell): a request may raise it, never lower it, and a
policy without the section keeps the documented floor of 10; a bad setting is a policy error, never a default."""
from __future__ import annotations

import pytest

from conftest import ROOT
from patronguard.errors import InputError, PolicyError
from patronguard.policy import load_policy
from patronguard.stats import service
from patronguard.stats.request import parse_stats_request


def _policy(tmp_path, floor_line: str | None):
    text = (ROOT / "policy/westchester.yaml").read_text()
    start = text.index("statistics:\n")
    end = text.index("\n\n", start)
    block = "" if floor_line is None else f"statistics:\n  {floor_line}\n  clauses: [westchester-1a]"
    path = tmp_path / "policy.yaml"
    path.write_text(text[:start] + block + text[end:])
    return str(path)


def test_the_policy_sets_the_floor_a_request_may_only_raise(tmp_path):
    policy = _policy(tmp_path, "min_patrons_per_cell: 15")
    request = parse_stats_request(by="year", requester="circ-desk-7")
    assert service.decide_stats(request, policy).k == 15
    assert service.decide_stats(parse_stats_request(by="year", requester="c", min_count=20), policy).k == 20
    with pytest.raises(InputError, match="floor of 15"):
        service.decide_stats(parse_stats_request(by="year", requester="c", min_count=12), policy)


def test_without_the_section_the_documented_floor_holds(tmp_path):
    request = parse_stats_request(by="year", requester="circ-desk-7")
    assert service.decide_stats(request, _policy(tmp_path, None)).k == 10


@pytest.mark.parametrize("line", ["min_patrons_per_cell: 1", "min_patrons_per_cell: ten", "min_patrons: 10"])
def test_a_bad_floor_is_a_policy_error_naming_the_field(tmp_path, line):
    with pytest.raises(PolicyError) as info:
        load_policy(_policy(tmp_path, line))
    assert "statistics" in str(info.value) and "\n" not in str(info.value)
