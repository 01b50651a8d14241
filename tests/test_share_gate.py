"""The share gate end to end on real files, the real (small, SQLite) ILS, the real store and real Ed25519
signatures: the gateway first, then the scan judged against the decision, release or quarantine, the audit
event (no values), retries that release once, and bad input refused in one line with nothing released."""
from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from cli_helpers import run_cli
from conftest import ROOT
from patronguard.authz.keys import init_key
from patronguard.authz.signatures import sign_request
from patronguard.errors import InputError, PolicyError
from patronguard.gateway import parse_request
from patronguard.share import SHARE_EVENT, share_file

STATS_REQUEST = ROOT / "examples/share/board-statistics-request.json"
STATS_FILE = ROOT / "examples/share/branch-circulation-2026-06.csv"
POLICY = str(ROOT / "policy/westchester.yaml")
#: patrons of the small ILS (seed 7) with GDPR_PROCESSING consent given, and one who refused it
CONSENTING, REFUSED = (222, 236), 177


@pytest.fixture
def gate(tmp_path, small_ils_sqlite_copy):
    """Where the gate reads and writes in a test: the ILS copy, a fresh store, share and quarantine folders."""
    return dict(ils_url=f"sqlite:///{small_ils_sqlite_copy}", store_url=f"sqlite:///{tmp_path / 'store.db'}",
                share_dir=tmp_path / "share", quarantine_dir=tmp_path / "quarantine")


def patrons(ils_url: str, *numbers: int) -> dict[int, dict]:
    engine = sa.create_engine(ils_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT borrowernumber, cardnumber, firstname, surname, email FROM borrowers "
                                    "WHERE borrowernumber IN (%s)" % ",".join(map(str, numbers)))).mappings().all()
    engine.dispose()
    return {row["borrowernumber"]: dict(row) for row in rows}


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def share_events(store_url: str) -> list[tuple[dict, str]]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM audit_events WHERE kind = :k ORDER BY seq"),
                            {"k": SHARE_EVENT}).all()
    engine.dispose()
    return [(json.loads(text), text) for (text,) in rows]


def files_under(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def stats_share(path, gate, **changes):
    options = dict(to="library-board", request=STATS_REQUEST, policy=POLICY, **gate)
    options.update(changes)
    return share_file(path, **options)


# ----------------------------------------------------------------------------- statistics: any finding blocks
def test_clean_statistics_file_is_released_with_its_record(gate):
    result = stats_share(STATS_FILE, gate)
    assert result.outcome == "released" and not result.retried
    released = gate["share_dir"] / "library-board" / STATS_FILE.name
    assert released.read_bytes() == STATS_FILE.read_bytes()
    record = json.loads((released.parent / (released.name + ".scan.json")).read_text())
    assert record["outcome"] == "released" and record["decided"]["outcome"] == "allow"
    assert record["decided"]["clauses"] == ["Westchester §1(a)", "Westchester §1(b)", "Westchester §1(c)"]
    assert record["file_sha256"] == result.file_sha256 and len(record["scanner_settings_sha256"]) == 64
    assert record["scan"]["rows"] == 4 and record["scan"]["blocking"] == 0
    assert files_under(gate["quarantine_dir"]) == []


def test_planted_patron_in_statistics_is_quarantined_never_released(gate, tmp_path):
    p = patrons(gate["ils_url"], 5)[5]
    note = f"complaint from {p['firstname']} {p['surname']}, card {p['cardnumber']}"
    export = write_csv(tmp_path / "branch-stats.csv", ["branch", "checkouts", "note"],
                       [["Main", "4812", "busy month"], ["Riverside", "1733", note]])
    result = stats_share(export, gate)
    assert result.outcome == "quarantined"
    assert files_under(gate["share_dir"]) == []
    quarantined = [f for f in files_under(gate["quarantine_dir"]) if not f.endswith(".scan.json")]
    assert len(quarantined) == 1 and quarantined[0].endswith("branch-stats.csv")
    assert export.exists()                                  # the source is left where it was
    assert result.scan["blocking"] >= 2 and "LIBRARY_CARD" in result.scan["entities"]["blocking"]
    text = json.dumps(result.to_dict()) + "".join(
        p_.read_text() for p_ in gate["quarantine_dir"].rglob("*.scan.json"))
    for value in (p["cardnumber"], p["surname"], p["firstname"]):
        assert value not in text                            # masked previews only


def test_redacted_copy_scanned_clean_is_released_in_place_of_the_file(gate, tmp_path):
    p = patrons(gate["ils_url"], 6)[6]
    export = write_csv(tmp_path / "events.csv", ["event", "attendance", "contact"],
                       [["Story time", "35", ""], ["Book sale", "140", f"write to {p['email']}"]])
    result = stats_share(export, gate, redact=True)
    assert result.outcome == "released" and result.redacted
    assert result.scan["blocking"] >= 1 and result.redacted_scan["blocking"] == 0
    released = gate["share_dir"] / "library-board" / "events.csv"
    text = released.read_text()
    assert p["email"] not in text and "write to <KNOWN_PATRON>" in text and "Story time,35" in text
    assert not [f for f in gate["quarantine_dir"].rglob("*") if f.is_file()]   # the work folder is gone
    without = stats_share(export, dict(gate, share_dir=tmp_path / "other-share"))
    assert without.outcome == "quarantined"                 # the same file without --redact does not go


# ----------------------------------------------------------------------------- a share about many patrons
def _consent_request(tmp_path, monkeypatch, fields, name="vendor-share.json"):
    """A vendor share about three patrons resting on each one's recorded consent, signed by the Director."""
    keys = init_key(tmp_path / "keys", "director")
    monkeypatch.setenv("PATRONGUARD_DIRECTOR_PUBLIC_KEY", str(keys.public_key_path))
    data = {"request_id": "share-2026-900", "action": "disclose_records",
            "requester": {"role": "staff", "id": "staff-17"}, "handled_by": "director",
            "subjects": {"borrowernumbers": [*CONSENTING, REFUSED]},
            "recipient": {"id": "readsmart-vendor", "role": "third_party"}, "channel": "written",
            "fields": fields, "evidence": {"consent": "per_patron"}}
    signed = sign_request(parse_request(data), signer="director", scope=["disclose_records"],
                          expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1),
                          private_key_path=keys.private_key_path)
    data["evidence"]["written_authorization"] = signed
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def consent_share(tmp_path, monkeypatch):
    return _consent_request(tmp_path, monkeypatch, ["identity", "loan_history"])


def test_a_share_that_does_not_release_identity_carries_no_identifier_even_of_released_patrons(
        gate, tmp_path, monkeypatch):
    # Westchester §1(b): a card, a name, an email identify a patron; loan history alone must come de-identified
    request = _consent_request(tmp_path, monkeypatch, ["loan_history"], name="history-only.json")
    p = patrons(gate["ils_url"], *CONSENTING)
    export = write_csv(tmp_path / "history.csv", ["cardnumber", "loans"],
                       [[p[n]["cardnumber"], "12"] for n in CONSENTING])
    result = share_file(export, to="readsmart-vendor", request=request, policy=POLICY,
                        consent_type="GDPR_PROCESSING", **gate)
    assert result.decision["outcome"] == "allow_limited" and result.decision["patrons_released"] == 0
    assert result.outcome == "quarantined" and result.scan["entities"]["blocking"] == {"LIBRARY_CARD": 2}
    clean = write_csv(tmp_path / "history-clean.csv", ["loans"], [["12"], ["7"]])
    assert share_file(clean, to="readsmart-vendor", request=request, policy=POLICY,
                      consent_type="GDPR_PROCESSING", **gate).outcome == "released"


def test_consent_share_releases_only_the_consenting_patrons_data(gate, tmp_path, consent_share):
    p = patrons(gate["ils_url"], *CONSENTING, REFUSED, 5)
    rows = [[p[n]["cardnumber"], f"{p[n]['firstname']} {p[n]['surname']}", p[n]["email"] or "", "12"]
            for n in CONSENTING]
    export = write_csv(tmp_path / "readsmart.csv", ["cardnumber", "name", "email", "loans"], rows)
    options = dict(to="readsmart-vendor", request=consent_share, policy=POLICY, consent_type="GDPR_PROCESSING",
                   **gate)
    result = share_file(export, **options)
    assert result.outcome == "released", result.to_dict()
    assert result.decision["outcome"] == "allow_limited" and result.decision["patrons_released"] == 2
    assert result.scan["blocking"] == 0 and result.scan["permitted"] >= 4
    assert (gate["share_dir"] / "readsmart-vendor" / "readsmart.csv").exists()

    for other in (REFUSED, 5):              # a patron without consent, a patron outside the share: blocked
        leaked = write_csv(tmp_path / f"readsmart-{other}.csv", ["cardnumber", "name", "email", "loans"],
                           rows + [[p[other]["cardnumber"], "", "", "3"]])
        result = share_file(leaked, **options)
        assert result.outcome == "quarantined"
        assert result.scan["entities"]["blocking"] == {"LIBRARY_CARD": 1}     # that card, and nothing else
        assert not (gate["share_dir"] / "readsmart-vendor" / leaked.name).exists()


def test_unattributable_email_blocks_a_patron_share(gate, tmp_path, consent_share):
    p = patrons(gate["ils_url"], CONSENTING[0])[CONSENTING[0]]
    export = write_csv(tmp_path / "readsmart.csv", ["cardnumber", "email"],
                       [[p["cardnumber"], "someone.else@example.net"]])
    result = share_file(export, to="readsmart-vendor", request=consent_share, policy=POLICY,
                        consent_type="GDPR_PROCESSING", **gate)
    assert result.outcome == "quarantined"
    assert result.scan["entities"]["blocking"] == {"EMAIL_ADDRESS": 1}
    assert result.scan["entities"]["permitted"] == {"LIBRARY_CARD": 1}


# ----------------------------------------------------------------------------- refused before any scan
def test_refused_request_reads_nothing_and_releases_nothing(gate, tmp_path):
    ragged = tmp_path / "ragged.csv"                        # a scan would fail on it: it is never read
    ragged.write_text("a,b\n1,2,3\n")
    request = tmp_path / "unsigned.json"
    request.write_text((ROOT / "examples/requests/bulk/westchester-s5-collection-agency-overdue.json").read_text())
    result = share_file(ragged, to="acme-collections", request=request, policy=POLICY, **gate)
    assert result.outcome == "refused" and result.scan is None
    assert result.decision["outcome"] in ("deny", "pending", "refer") and result.decision["clauses"]
    assert result.reason
    assert files_under(gate["share_dir"]) == [] and files_under(gate["quarantine_dir"]) == []
    (event, _), = share_events(gate["store_url"])
    assert event["outcome"] == "refused" and event["clauses"] == result.decision["clauses"]


def test_recipient_other_than_the_request_names_is_refused(gate):
    result = stats_share(STATS_FILE, gate, to="acme-collections")
    assert result.outcome == "refused" and "'library-board'" in result.reason and "'acme-collections'" in result.reason
    assert files_under(gate["share_dir"]) == []


# ----------------------------------------------------------------------------- audit and retries
def test_audit_event_has_counts_and_kinds_never_values(gate, tmp_path):
    p = patrons(gate["ils_url"], 7)[7]
    export = write_csv(tmp_path / "s.csv", ["branch", "note"], [["Main", f"{p['email']} called, {p['cardnumber']}"]])
    stats_share(export, gate)
    stats_share(STATS_FILE, gate)
    (blocked, blocked_text), (released, _) = share_events(gate["store_url"])
    assert blocked["outcome"] == "quarantined" and released["outcome"] == "released"
    assert blocked["recipient_id"] == "library-board" and len(blocked["file_sha256"]) == 64
    assert len(blocked["request_sha256"]) == 64 and blocked["scan"]["blocking"] >= 2
    kinds = set(blocked["scan"]["entities"]["blocking"])
    assert "LIBRARY_CARD" in kinds and kinds & {"EMAIL_ADDRESS", "KNOWN_PATRON"}
    for value in (p["email"], p["cardnumber"], p["email"].split("@")[0], "s.csv"):
        assert value not in blocked_text


def test_a_retried_share_releases_once(gate):
    first = stats_share(STATS_FILE, gate)
    record = gate["share_dir"] / "library-board" / (STATS_FILE.name + ".scan.json")
    before = record.stat().st_mtime_ns
    again = stats_share(STATS_FILE, gate)
    assert first.outcome == again.outcome == "released" and again.retried and not first.retried
    assert again.audit_seq == first.audit_seq and again.path == first.path
    assert [e["outcome"] for e, _ in share_events(gate["store_url"])] == ["released"]
    assert record.stat().st_mtime_ns == before


# ----------------------------------------------------------------------------- fail closed
def test_bad_input_is_one_line_and_nothing_is_released(gate, tmp_path):
    unknown = tmp_path / "export.docx"
    unknown.write_bytes(b"PK\x03\x04whatever")
    with pytest.raises(InputError) as info:
        stats_share(unknown, gate)
    assert "\n" not in str(info.value) and "export.docx" in str(info.value)
    with pytest.raises(InputError, match="not a recipient name"):
        stats_share(STATS_FILE, gate, to="../elsewhere")
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("policy: {}\n")
    with pytest.raises(PolicyError):
        stats_share(STATS_FILE, gate, policy=str(bad_policy))
    assert files_under(gate["share_dir"]) == [] and files_under(gate["quarantine_dir"]) == []


def test_cli_exit_codes_released_quarantined_refused_error(capsys, gate, tmp_path):
    common = ["--request", str(STATS_REQUEST), "--policy", POLICY, "--db", gate["ils_url"], "--store",
              gate["store_url"], "--share-dir", str(gate["share_dir"]), "--quarantine-dir", str(gate["quarantine_dir"])]
    code, out, err = run_cli(capsys, "share", str(STATS_FILE), "--to", "library-board", *common, "--json")
    assert code == 0, err
    assert json.loads(out)["outcome"] == "released"
    p = patrons(gate["ils_url"], 8)[8]
    export = write_csv(tmp_path / "s.csv", ["branch", "note"], [["Main", f"ask {p['firstname']} {p['surname']}"]])
    code, out, err = run_cli(capsys, "share", str(export), "--to", "library-board", *common)
    assert code == 3 and out.startswith("QUARANTINED") and p["surname"] not in out
    code, out, err = run_cli(capsys, "share", str(STATS_FILE), "--to", "someone-else", *common)
    assert code == 3 and out.startswith("REFUSED")
    code, out, err = run_cli(capsys, "share", str(tmp_path / "missing.csv"), "--to", "library-board", *common)
    assert code == 2 and err.count("\n") == 1 and "missing.csv" in err
