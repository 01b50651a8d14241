"""The scanner engine, recognizer by recognizer and form by form (patronguard.scan.engine)."""
from __future__ import annotations

import pytest

from patronguard.errors import InputError
from patronguard.scan.engine import CellFinding, Scanner
from patronguard.scan.known import KnownPatron
from patronguard.scan.mask import mask_preview
from patronguard.scan.recognizers import (DateOfBirthRecognizer, EmailAddressRecognizer, KnownPatronRecognizer,
                                          LibraryCardRecognizer, UsPhoneRecognizer, UsStreetAddressRecognizer)
from patronguard.scan.recognizers.checksums import isbn10_valid, isbn13_valid, issn_valid, luhn_valid
from patronguard.scan.settings import DEFAULT_SETTINGS_FILE, ScanSettings, load_scan_settings, separated_number_regex

CARD = "21234000000422"          # Luhn-valid, the default card pattern
KNOWN_CARD = "21234000000075"
ITEM = "31234000000420"          # Luhn-valid item barcode
JANE = KnownPatron(cardnumber=KNOWN_CARD, firstname="Jane", middlename="Quinn", surname="Doe",
                   email="jane.doe@gmail.com", phone="914-555-0123", address="12 Oak Hill Road", dateofbirth="1984-03-02")
TOMAS = KnownPatron(firstname="Tomás", surname="Núñez-García")
GRACE = KnownPatron(firstname="Grace", surname="Whitfield")
MAY = KnownPatron(firstname="May", surname="Okafor")
WILL = KnownPatron(firstname="Will", surname="Pemberton")
SETTINGS = ScanSettings(allow_list=("(914) 555-0199", "info@library.org", "100 Main Street"))


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(SETTINGS, [JANE, TOMAS, GRACE, MAY, WILL])


def found(scanner: Scanner, text: str, column: str = "note") -> list[tuple[str, str]]:
    """(matched text, entity) of every finding in one cell."""
    return [(text[f.start:f.end], f.entity) for f in scanner.scan_column(column, [text])]


def test_the_checksums_tell_numbers_apart():
    assert luhn_valid(CARD) and luhn_valid(ITEM) and not luhn_valid("21234000000423")
    assert isbn13_valid("9780306406157") and not isbn13_valid("9780306406158")
    assert isbn10_valid("0306406152") and issn_valid("03178471") and not issn_valid("03178472")


@pytest.mark.parametrize("text", [f"card {CARD}", "2 1234 0000 0042 2", "21234-0000-00422"])
def test_library_card_plain_spaced_or_dashed(scanner, text):
    assert [e for _, e in found(scanner, text)] == ["LIBRARY_CARD"]


@pytest.mark.parametrize("text", ["card 21234000000423", ITEM, f"item {ITEM} damaged", "ISBN 978-0-306-40615-7",
                                  "ISBN 0306406152", "ISSN 0317-8471", "LCCN 2001012345", "025.04 SMI",
                                  "QA76.73 .P98 2019"])
def test_numbers_that_are_not_cards_or_phones(scanner, text):
    assert found(scanner, text) == []


def test_a_known_card_number_of_another_format_is_a_library_card():
    scanner = Scanner(SETTINGS, [KnownPatron(cardnumber="99001234")])
    assert found(scanner, "barcode 9900-1234 at desk") == [("9900-1234", "LIBRARY_CARD")]


@pytest.mark.parametrize("text,expected", [
    ("JANE DOE called", "JANE DOE"), ("doe, jane", "doe, jane"), ("Doe, Jane Quinn", "Doe, Jane Quinn"),
    ("Jane Q. Doe", "Jane Q. Doe"), ("Tomas Nunez Garcia", "Tomas Nunez Garcia"),
    ("tomás núñez-garcía visited", "tomás núñez-garcía"), ("Hold for  Jane   Doe", "Jane   Doe"),
    ("mail jane.doe@gmail.com", "jane.doe@gmail.com"), ("reach at 914.555.0123", "914.555.0123"),
    ("moved to 12 Oak Hill Rd.", "12 Oak Hill Rd")])
def test_known_patron_forms(scanner, text, expected):
    assert (expected, "KNOWN_PATRON") in found(scanner, text)


@pytest.mark.parametrize("text,name", [("Patron Jane asked for a hold", "Jane"), ("Mrs. Doe returned it", "Doe"),
                                       ("Borrower Grace paid", "Grace"), ("Jane said Doe family moved", "Jane")])
def test_a_name_alone_counts_with_evidence(scanner, text, name):
    assert (name, "KNOWN_PATRON") in found(scanner, text)


@pytest.mark.parametrize("text", ["Grace period ends Friday", "May book sale", "Will be withdrawn", "Jane asked",
                                  "patron will renew", "Janet Doeman visited"])
def test_a_name_alone_without_evidence_is_not_a_finding(scanner, text):
    assert found(scanner, text) == []


def test_bibliographic_columns_hold_authors_not_patrons(scanner):
    assert found(scanner, "Jane Doe", column="author") == []
    assert found(scanner, "Doe, Jane", column="Sheet1!Title") == []
    assert ("jane.doe@gmail.com", "EMAIL_ADDRESS") in found(scanner, "jane.doe@gmail.com", column="author")
    assert [e for _, e in found(scanner, f"card {CARD}", column="title")] == ["LIBRARY_CARD"]
    assert ("Jane Doe", "KNOWN_PATRON") in found(scanner, "Jane Doe", column="note")


@pytest.mark.parametrize("text", ["New novel by Jane Doe on display", 'Book club picked "Night Rain" by Jane Doe',
                                  "Jane Doe's new novel arrived", "Author visit: Jane Doe reading from her memoir"])
def test_a_note_about_a_book_by_a_namesake_is_not_a_finding(scanner, text):
    assert found(scanner, text) == []


def test_a_note_about_the_patron_is_a_finding_even_with_a_book(scanner):
    assert ("Jane Doe", "KNOWN_PATRON") in found(scanner, "Patron Jane Doe asked for the novel by Sue Grafton")


@pytest.mark.parametrize("text,expected", [
    ("jane dot doe at gmail dot com", "jane dot doe at gmail dot com"), ("x [at] y [dot] org", "x [at] y [dot] org"),
    ("x(at)y.org", "x(at)y.org"), ("write to sam.lee@example.com", "sam.lee@example.com")])
def test_email_plain_and_obfuscated(scanner, text, expected):
    assert (expected, "EMAIL_ADDRESS") in found(scanner, text)


@pytest.mark.parametrize("text", ["info@library.org", "arrived at library.returned late", "x@y.notasuffix"])
def test_not_emails(scanner, text):
    assert [e for _, e in found(scanner, text) if e == "EMAIL_ADDRESS"] == []


@pytest.mark.parametrize("text,expected", [
    ("call (212) 867-5309", "(212) 867-5309"), ("212-867-5309", "212-867-5309"), ("212.867.5309", "212.867.5309"),
    ("+1 212 867 5309", "+1 212 867 5309"), ("1-212-867-5309", "1-212-867-5309"),
    ("212-867-5309 x12", "212-867-5309 x12"), ("phone 2128675309", "2128675309")])
def test_phone_formats(scanner, text, expected):
    assert (expected, "PHONE_NUMBER") in found(scanner, text)


@pytest.mark.parametrize("text", ["2128675309", "(914) 555-0199", "Call us: 914.555.0199"])
def test_bare_digits_and_the_library_number_are_not_phones(scanner, text):
    assert found(scanner, text) == []


def test_phone_context_from_the_column_name(scanner):
    assert found(scanner, "2128675309", column="patron_phone") == [("2128675309", "PHONE_NUMBER")]


@pytest.mark.parametrize("text,expected", [("lives at 45 Elm Street Apt 3", "45 Elm Street Apt 3"),
                                           ("New address 7 N Maple Ave", "7 N Maple Ave"),
                                           ("moved to 1600 PENNSYLVANIA AVE", "1600 PENNSYLVANIA AVE")])
def test_street_addresses(scanner, text, expected):
    assert (expected, "US_STREET_ADDRESS") in found(scanner, text)


@pytest.mark.parametrize("text", ["Drop-off at 100 Main Street", "returned 3 books in the Main St bin"])
def test_not_street_addresses(scanner, text):
    assert [e for _, e in found(scanner, text) if e == "US_STREET_ADDRESS"] == []


@pytest.mark.parametrize("text,expected", [("born 1990-07-04", "1990-07-04"), ("DOB: 7/4/1990", "7/4/1990"),
                                           ("born on July 4, 1990", "July 4, 1990"),
                                           ("date of birth 4 July 1990", "4 July 1990"),
                                           ("ID checked, 03/02/1984 matches", "03/02/1984")])
def test_dates_of_birth_with_evidence(scanner, text, expected):
    assert found(scanner, text) == [(expected, "DATE_OF_BIRTH")]


@pytest.mark.parametrize("text,column", [("Due 2024-05-01", "note"), ("2024-05-01", "date_due"),
                                         ("May book sale on May 3, 2025", "note"), ("1984-03-02", "issuedate"),
                                         ("born 2024-13-45", "note")])
def test_loan_event_and_invalid_dates_are_not_dates_of_birth(scanner, text, column):
    assert found(scanner, text, column) == []


def test_a_birth_date_column_makes_dates_dates_of_birth(scanner):
    assert found(scanner, "1990-07-04", column="dateofbirth") == [("1990-07-04", "DATE_OF_BIRTH")]


def test_findings_map_back_to_every_row_and_skip_non_text(scanner):
    values = ["Jane Doe called", None, "", "Returned late", "Jane Doe called", 42]
    findings = scanner.scan_column("note", values)
    assert [(f.index, f.entity) for f in findings] == [(0, "KNOWN_PATRON"), (4, "KNOWN_PATRON")]
    assert findings == scanner.scan_column_plain("note", values)
    assert all(isinstance(f, CellFinding) and 0 < f.score <= 1 for f in findings)


def test_explanations_never_hold_the_value(scanner):
    text = "Patron Jane Doe, card 2 1234 0000 0042 2, jane.doe@gmail.com, 914-555-0123, born 1984-03-02"
    findings = scanner.scan_column("note", [text])
    assert {f.entity for f in findings} >= {"KNOWN_PATRON", "LIBRARY_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER",
                                             "DATE_OF_BIRTH"}
    for finding in findings:
        value = text[finding.start:finding.end]
        assert value.lower() not in finding.explanation.lower() and finding.explanation
    kinds = {f.explanation.split(";")[0] for f in findings if f.entity == "KNOWN_PATRON"}
    assert {"known patron full name", "known patron email", "known patron phone"} <= kinds


@pytest.mark.parametrize("pattern,texts", [
    (r"(?<![\w-])2(?:[ -]?\d){3}(?!\w)", ["2 123", "x-2123", "2123 é", "(2-1-2-3)"]),
    (r"(?<=born )(\d)/\1", ["born 1/1", "born 2/2"]),
    (r"\bcat\b(?![\w-]|\.\d)", ["cat", "a cat.", "CAT"]),
    (r"(?-i:[A-Z])\s+st", ["A\u00a0ST", "B st"]),
])
def test_the_re2_gate_matches_wherever_the_pattern_does(pattern, texts):
    import pyarrow as pa
    import regex

    from patronguard.scan.recognizers.re2_gate import gate, widen_for_re2
    compiled = regex.compile(pattern, regex.IGNORECASE)
    widened = widen_for_re2(pattern)
    assert widened is not None and "(?<" not in widened and "(?!" not in widened
    matching = [i for i, t in enumerate(texts) if compiled.search(t)]
    assert matching and set(matching) <= set(gate(pa.array(texts), [widened], ignore_case=True))


def test_the_re2_gate_declines_what_it_cannot_widen():
    from patronguard.scan.recognizers.re2_gate import widen_for_re2
    assert widen_for_re2(r"(?>ab)c") is None and widen_for_re2(r"\Dx") is None


def test_the_recognizers_are_presidio_recognizers_from_yaml(scanner):
    kinds = {type(r) for r in scanner.registry.recognizers}
    assert kinds == {LibraryCardRecognizer, UsPhoneRecognizer, EmailAddressRecognizer, UsStreetAddressRecognizer,
                     DateOfBirthRecognizer, KnownPatronRecognizer}
    assert set(scanner.analyzer.get_supported_entities()) == {
        "LIBRARY_CARD", "KNOWN_PATRON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_STREET_ADDRESS", "DATE_OF_BIRTH"}


@pytest.mark.parametrize("text,masked", [("Jane Doe", "J*** D**"), ("jane.doe@gmail.com", "j***@g****.com"),
                                         ("21234-5678-90123", "*****-****-***23"), ("(914) 555-0100", "(***) ***-**00"),
                                         ("1984", "****")])
def test_mask_preview(text, masked):
    assert mask_preview(text) == masked


def test_default_settings_file_is_the_defaults():
    assert load_scan_settings(DEFAULT_SETTINGS_FILE) == ScanSettings()
    assert separated_number_regex(r"2\d{13}") == r"2(?:[ -]?\d){13}"


@pytest.mark.parametrize("content,field", [("thresold: 0.5\n", "thresold"), ("threshold: 2\n", "threshold"),
                                           ("card_pattern: '2\\d+'\n", "card_pattern"),
                                           ("dob_columns: ['(']\n", "dob_columns")])
def test_bad_settings_give_one_line_naming_file_and_field(tmp_path, content, field):
    path = tmp_path / "scan.yaml"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_scan_settings(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and field in message


def test_library_card_pattern_is_configurable():
    scanner = Scanner(ScanSettings(card_pattern=r"29\d{6}", card_luhn=False))
    assert found(scanner, "card 2912-3456") == [("2912-3456", "LIBRARY_CARD")]
    assert found(scanner, f"card {CARD}") == []


def test_a_recognizers_file_may_add_presidio_predefined_and_plain_pattern_recognizers(tmp_path):
    from patronguard.scan.recognizers.registry import DEFAULT_RECOGNIZERS_FILE
    extra = """
  - name: IbanRecognizer
    type: predefined
  - name: branch_code
    type: custom
    supported_entity: BRANCH_CODE
    patterns:
      - {name: branch code, regex: '\\bBR-[0-9]{3}\\b', score: 0.9}
"""
    path = tmp_path / "recognizers.yaml"
    path.write_text(DEFAULT_RECOGNIZERS_FILE.read_text() + extra)
    scanner = Scanner(SETTINGS, [JANE], recognizers_file=path)
    values = ["sent to BR-123", "IBAN GB82 WEST 1234 5698 7654 32", "Jane Doe called", "nothing here"]
    findings = scanner.scan_column("note", values)
    assert [(f.index, f.entity) for f in findings] == [(0, "BRANCH_CODE"), (1, "IBAN_CODE"), (2, "KNOWN_PATRON")]
    assert findings == scanner.scan_column_plain("note", values)


def test_a_bad_recognizers_file_names_file_and_field(tmp_path):
    path = tmp_path / "recognizers.yaml"
    path.write_text("recognizers:\n  - name: x\n    type: custom\n    suported_entity: X\n")
    with pytest.raises(InputError) as caught:
        Scanner(SETTINGS, recognizers_file=path)
    assert str(path) in str(caught.value) and "suported_entity" in str(caught.value)
