"""Words for the Board report: event kinds, outcomes, actions, states and count fields as people say them.

The audit log stores codes (``retention-recovered``, ``emergency_release``, ``allow_limited``); the Board
reads labels. A code with no entry here is still shown readably (dashes and underscores become spaces,
first letter capitalised), and templates keep the code itself in a ``title`` attribute.
"""
from __future__ import annotations

from functools import cache

#: Audit event kinds.
KIND_LABELS = {
    "decision": "Gateway decision",
    "request-state": "Request status change",
    "legal-hold-placed": "Legal hold placed",
    "legal-hold-released": "Legal hold released",
    "obligation-opened": "Obligation opened",
    "obligation-closed": "Obligation closed",
    "purge": "Director's purge",
    "retention-run": "Retention run",
    "retention-dry-run": "Retention dry run (nothing changed)",
    "retention-recovered": "Recovery of a killed run's work",
    "audit-repinned": "Audit log re-pinned",
    "director-key-pinned": "Director's public key pinned",
    "authorization-used": "Written authorization used",
    "plan-rehearsal": "Plan rehearsed (nothing written)",
    "share": "Export through the share gate (released, quarantined or refused)",
}

#: Gateway decision outcomes.
OUTCOME_LABELS = {
    "allow": "Allowed",
    "allow_limited": "Allowed in part",
    "deny": "Refused",
    "refer": "Referred",
    "pending": "Waiting (counsel's review, a fact to establish, or the Director's signed determination)",
}

#: Gateway actions (``patronguard/gateway/vocabulary.py``).
ACTION_LABELS = {
    "list_checkouts": "List checkouts",
    "item_count_and_due_dates": "Item count and due dates",
    "view_record": "View patron record",
    "staff_access": "Staff access",
    "disclose": "Disclose records",
    "disclose_records": "Disclose records",
    "law_enforcement_request": "Law-enforcement request",
    "emergency_release": "Emergency release",
    "media_request": "Media request",
    "anonymised_statistics": "Anonymised statistics",
    "change_retention": "Change the retention schedule",
    "scheduled_retention": "Scheduled retention run",
    "purge": "Purge",
    "release_legal_hold": "Release a legal hold",
    "amend_policy": "Amend the policy",
    "review_decision": "Review a decision",
}

#: Request workflow states (``patronguard/workflow/requests.py``).
STATE_LABELS = {
    "received": "Received",
    "referred": "Referred",
    "counsel_review": "Under counsel review",
    "decided": "Decided",
    "closed": "Closed",
}

#: What the retention engine counts per table, and what each count means to the Board.
COUNT_LABELS = {
    "patrons_removed": "Patrons removed",
    "deleted": "Rows deleted",
    "other_deleted": "Other rows deleted",
    "stripped": "Rows de-identified",
    "staff_links_cleared": "Staff links cleared",
    "aggregated": "Counted into statistics first",
    "scrubbed": "Free text scrubbed",
    "anonymised": "Patron records blanked",
    "unspecified": "Rows changed (kind not recorded)",
    "total": "Total rows changed",
}

#: Column headings shared by several tables.
FIELD_LABELS = {
    "seq": "Entry",
    "at": "Time (UTC)",
    "as_of": "As of",
    "events": "Events",
    "decisions": "Decisions",
    "requests": "Requests",
    "tree_size": "Entries (tree size)",
    "root_hash": "RFC 6962 root hash",
    "head_hash": "Hash of the newest entry",
}


def humanize(code) -> str:
    """``emergency_release`` → ``Emergency release``: a readable fallback for a code with no label."""
    text = " ".join(str("" if code is None else code).replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:]


def label(code, mapping: dict[str, str]) -> str:
    return mapping.get(str(code), humanize(code)) if code not in (None, "") else "—"


@cache
def _table_descriptions() -> dict[str, str]:
    """ILS table → what it holds, in a few words, from the PII map (empty if the map cannot be read)."""
    try:
        from ..ils.piimap import builtin_pii_map

        pii_map = builtin_pii_map("koha")
    except Exception:  # noqa: BLE001 - the report must render even without the map
        return {}
    out = {}
    for name, table in pii_map.tables.items():
        record_class = pii_map.record_classes.get(table.records) if table.records else None
        if name == pii_map.patron_table:
            text = "patron records"
        elif record_class is not None and table.records != "expired_patrons":
            text = record_class.description
        else:
            text = table.description.split(". ")[0].split("; ")[0].rstrip(".")
        out[name] = text[:1].upper() + text[1:]
    return out


def table_description(name: str) -> str:
    """What an ILS table holds (``old_issues`` → ``Returned loans``); empty if unknown."""
    return _table_descriptions().get(name, "")


@cache
def patron_table() -> str:
    """The ILS table of patron records (Koha's ``borrowers``)."""
    try:
        from ..ils.piimap import builtin_pii_map

        return builtin_pii_map("koha").patron_table
    except Exception:  # noqa: BLE001
        return "borrowers"
