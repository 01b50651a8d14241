"""Which Koha release a database is, from its Version preference; unknown releases are refused."""
from __future__ import annotations

import pytest

from patronguard.errors import UnsupportedReleaseError
from patronguard.ils.release import koha_lines, line_number, release_for_version, supported_lines, version_number


def test_supported_lines_cover_every_required_line_oldest_first():
    lines = supported_lines()
    for line in ("19.11", "20.11", "21.11", "22.11", "23.11", "24.11", "current"):
        assert line in lines
    assert lines == sorted(lines, key=line_number)
    assert lines[-1] == "current"


@pytest.mark.parametrize("value, expected", [
    ("19.1105000", (19, 11)), ("23.1106000", (23, 11)), ("24.11.03.000", (24, 11)), (" 21.1100000 ", (21, 11)),
])
def test_version_number_reads_koha_forms(value, expected):
    assert version_number(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "v23", "2311"])
def test_malformed_version_is_one_clear_error(value):
    with pytest.raises(UnsupportedReleaseError, match="expected a Koha version"):
        version_number(value)


def test_each_line_is_detected_from_its_own_version_preference():
    for line, facts in koha_lines().lines.items():
        release = release_for_version(facts.version_preference)
        assert release.line == line and release.exact


def test_a_release_between_lines_uses_the_nearest_older_line():
    release = release_for_version("22.0500000")
    assert release.line == "21.11" and not release.exact
    assert "between supported lines" in release.describe()


@pytest.mark.parametrize("value, words", [
    ("18.0500000", "older than the oldest supported release line"),
    ("3.2200000", "older than the oldest supported release line"),
    ("99.1100000", "newer than any release patronguard knows"),
])
def test_unsupported_releases_are_refused_naming_what_was_found(value, words):
    with pytest.raises(UnsupportedReleaseError) as err:
        release_for_version(value)
    assert words in str(err.value) and value in str(err.value)
