"""The tables where Koha keeps patron data, with Koha's own names and types.

Column names, nullability and keys follow Koha's ``kohastructure.sql``
(23.x/24.x) for the columns that matter to patron privacy; wide
configuration columns that never hold patron data are left out. Text types
map to MariaDB's LONGTEXT/MEDIUMTEXT on MySQL-family databases and to TEXT
elsewhere; Koha's TIMESTAMP columns are DATETIME here so that an UPDATE made
by the pipeline never silently rewrites them.

This schema is what ``patronguard ils init`` creates. The pipeline itself
never relies on it when reading a library's database: it reflects what the
connected database actually has and checks it against the PII map.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

LONGTEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MEDIUMTEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
TINYINT = sa.SmallInteger().with_variant(mysql.TINYINT(), "mysql", "mariadb")
MONEY = sa.Numeric(28, 6)


def _s(n: int) -> sa.String:
    return sa.String(n)


def _person_columns() -> list[sa.Column]:
    """Identity columns shared by borrowers, deletedborrowers and borrower_modifications."""
    return [
        sa.Column("cardnumber", _s(32)),
        sa.Column("surname", LONGTEXT),
        sa.Column("firstname", MEDIUMTEXT),
        sa.Column("middle_name", LONGTEXT),
        sa.Column("title", LONGTEXT),
        sa.Column("othernames", LONGTEXT),
        sa.Column("initials", MEDIUMTEXT),
        sa.Column("pronouns", LONGTEXT),
        sa.Column("streetnumber", _s(10)),
        sa.Column("streettype", _s(50)),
        sa.Column("address", LONGTEXT),
        sa.Column("address2", MEDIUMTEXT),
        sa.Column("city", LONGTEXT),
        sa.Column("state", MEDIUMTEXT),
        sa.Column("zipcode", _s(25)),
        sa.Column("country", MEDIUMTEXT),
        sa.Column("email", LONGTEXT),
        sa.Column("phone", MEDIUMTEXT),
        sa.Column("mobile", _s(50)),
        sa.Column("emailpro", MEDIUMTEXT),
        sa.Column("phonepro", MEDIUMTEXT),
        sa.Column("dateofbirth", sa.Date),
        sa.Column("branchcode", _s(10)),
        sa.Column("categorycode", _s(10)),
        sa.Column("dateenrolled", sa.Date),
        sa.Column("dateexpiry", sa.Date),
        sa.Column("sex", _s(1)),
        sa.Column("contactname", LONGTEXT),
        sa.Column("contactfirstname", MEDIUMTEXT),
        sa.Column("relationship", _s(100)),
        sa.Column("borrowernotes", LONGTEXT),
        sa.Column("opacnote", LONGTEXT),
        sa.Column("userid", _s(75)),
        sa.Column("password", _s(60)),
        sa.Column("smsalertnumber", _s(50)),
        sa.Column("sort1", _s(80)),
        sa.Column("sort2", _s(80)),
        sa.Column("privacy", sa.Integer, nullable=False, server_default="1"),
        sa.Column("lastseen", sa.DateTime),
        sa.Column("lang", _s(25), nullable=False, server_default="default"),
        sa.Column("updated_on", sa.DateTime),
    ]


branches = sa.Table(
    "branches", metadata,
    sa.Column("branchcode", _s(10), primary_key=True),
    sa.Column("branchname", LONGTEXT, nullable=False),
    sa.Column("branchaddress1", LONGTEXT),
    sa.Column("branchcity", LONGTEXT),
    sa.Column("branchzip", _s(25)),
    sa.Column("branchphone", LONGTEXT),
    sa.Column("branchemail", LONGTEXT),
)

categories = sa.Table(
    "categories", metadata,
    sa.Column("categorycode", _s(10), primary_key=True),
    sa.Column("description", LONGTEXT),
    sa.Column("enrolmentperiod", sa.SmallInteger),
    sa.Column("upperagelimit", sa.SmallInteger),
    sa.Column("dateofbirthrequired", TINYINT),
    sa.Column("category_type", _s(1), nullable=False, server_default="A"),
)

borrowers = sa.Table(
    "borrowers", metadata,
    sa.Column("borrowernumber", sa.Integer, primary_key=True, autoincrement=True),
    *_person_columns(),
    sa.Index("cardnumber", "cardnumber", unique=True),
    sa.Index("categorycode", "categorycode"),
)

deletedborrowers = sa.Table(
    "deletedborrowers", metadata,
    sa.Column("borrowernumber", sa.Integer, nullable=False, server_default="0"),
    *_person_columns(),
    sa.Index("deletedborrowers_borrowernumber", "borrowernumber"),
)

borrower_modifications = sa.Table(
    "borrower_modifications", metadata,
    sa.Column("timestamp", sa.DateTime, nullable=False),
    sa.Column("verification_token", _s(255), nullable=False, server_default=""),
    sa.Column("changed_fields", MEDIUMTEXT),
    sa.Column("borrowernumber", sa.Integer, nullable=False, server_default="0"),
    *[c for c in _person_columns() if c.name not in ("privacy", "lang", "updated_on", "lastseen", "password")],
    sa.Column("extended_attributes", sa.Text),
    sa.PrimaryKeyConstraint("verification_token", "borrowernumber"),
    sa.Index("borrower_modifications_borrowernumber", "borrowernumber"),
)

borrower_relationships = sa.Table(
    "borrower_relationships", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guarantor_id", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="CASCADE"), nullable=False),
    sa.Column("guarantee_id", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="CASCADE"), nullable=False),
    sa.Column("relationship", _s(100), nullable=False),
    sa.UniqueConstraint("guarantor_id", "guarantee_id", name="guarantor_guarantee_idx"),
)

borrower_attributes = sa.Table(
    "borrower_attributes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("borrowernumber", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="CASCADE"), nullable=False),
    sa.Column("code", _s(64), nullable=False),
    sa.Column("attribute", _s(255)),
    sa.Index("borrower_attributes_borrowernumber", "borrowernumber"),
)

biblio = sa.Table(
    "biblio", metadata,
    sa.Column("biblionumber", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("frameworkcode", _s(4), nullable=False, server_default=""),
    sa.Column("author", LONGTEXT),
    sa.Column("title", LONGTEXT),
    sa.Column("subtitle", LONGTEXT),
    sa.Column("notes", LONGTEXT),
    sa.Column("copyrightdate", sa.SmallInteger),
    sa.Column("datecreated", sa.Date, nullable=False),
)

items = sa.Table(
    "items", metadata,
    sa.Column("itemnumber", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("biblionumber", sa.Integer, sa.ForeignKey("biblio.biblionumber", ondelete="CASCADE"), nullable=False),
    sa.Column("barcode", _s(20)),
    sa.Column("dateaccessioned", sa.Date),
    sa.Column("homebranch", _s(10)),
    sa.Column("holdingbranch", _s(10)),
    sa.Column("price", sa.Numeric(8, 2)),
    sa.Column("datelastborrowed", sa.Date),
    sa.Column("datelastseen", sa.DateTime),
    sa.Column("itemlost", TINYINT, nullable=False, server_default="0"),
    sa.Column("withdrawn", TINYINT, nullable=False, server_default="0"),
    sa.Column("itemcallnumber", _s(255)),
    sa.Column("issues", sa.SmallInteger, server_default="0"),
    sa.Column("renewals", sa.SmallInteger),
    sa.Column("reserves", sa.SmallInteger),
    sa.Column("itemnotes", LONGTEXT),
    sa.Column("itemnotes_nonpublic", LONGTEXT),
    sa.Column("location", _s(80)),
    sa.Column("onloan", sa.Date),
    sa.Column("ccode", _s(80)),
    sa.Column("itype", _s(10)),
    sa.Index("itembarcodeidx", "barcode", unique=True),
)


def _loan_columns(history: bool) -> list:
    return [
        sa.Column("issue_id", sa.Integer, primary_key=True, autoincrement=not history),
        sa.Column("borrowernumber", sa.Integer,
                  sa.ForeignKey("borrowers.borrowernumber",
                                ondelete="SET NULL" if history else "RESTRICT"),
                  nullable=history),
        sa.Column("issuer_id", sa.Integer),
        sa.Column("itemnumber", sa.Integer,
                  sa.ForeignKey("items.itemnumber", ondelete="SET NULL" if history else "RESTRICT"),
                  nullable=history),
        sa.Column("date_due", sa.DateTime),
        sa.Column("branchcode", _s(10)),
        sa.Column("returndate", sa.DateTime),
        sa.Column("lastreneweddate", sa.DateTime),
        sa.Column("renewals_count", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("auto_renew", TINYINT, server_default="0"),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("issuedate", sa.DateTime),
        sa.Column("onsite_checkout", sa.Integer, nullable=False, server_default="0"),
        sa.Column("note", LONGTEXT),
        sa.Column("notedate", sa.DateTime),
    ]


issues = sa.Table(
    "issues", metadata, *_loan_columns(history=False),
    sa.Index("issues_itemnumber", "itemnumber", unique=True),
    sa.Index("issues_borrowernumber", "borrowernumber"),
)

old_issues = sa.Table(
    "old_issues", metadata, *_loan_columns(history=True),
    sa.Index("old_issuesborridx", "borrowernumber"),
    sa.Index("old_issuesitemidx", "itemnumber"),
    sa.Index("old_issues_returndate", "returndate"),
)


def _hold_columns(history: bool) -> list:
    return [
        sa.Column("reserve_id", sa.Integer, primary_key=True, autoincrement=not history),
        sa.Column("borrowernumber", sa.Integer,
                  sa.ForeignKey("borrowers.borrowernumber", ondelete="SET NULL" if history else "CASCADE"),
                  nullable=history),
        sa.Column("reservedate", sa.Date),
        sa.Column("biblionumber", sa.Integer, nullable=history),
        sa.Column("itemnumber", sa.Integer),
        sa.Column("branchcode", _s(10)),
        sa.Column("notificationdate", sa.Date),
        sa.Column("cancellationdate", sa.Date),
        sa.Column("cancellation_reason", _s(80)),
        sa.Column("reservenotes", LONGTEXT),
        sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("found", _s(1)),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("waitingdate", sa.Date),
        sa.Column("expirationdate", sa.Date),
        sa.Column("itemtype", _s(10)),
    ]


reserves = sa.Table(
    "reserves", metadata, *_hold_columns(history=False),
    sa.Index("reserves_borrowernumber", "borrowernumber"),
)

old_reserves = sa.Table(
    "old_reserves", metadata, *_hold_columns(history=True),
    sa.Index("old_reserves_borrowernumber", "borrowernumber"),
    sa.Index("old_reserves_timestamp", "timestamp"),
)

statistics = sa.Table(
    # Koha's statistics table has no primary key; neither does this one.
    "statistics", metadata,
    sa.Column("datetime", sa.DateTime),
    sa.Column("branch", _s(10)),
    sa.Column("value", sa.Float),
    sa.Column("type", _s(16)),
    sa.Column("other", LONGTEXT),
    sa.Column("itemnumber", sa.Integer),
    sa.Column("itemtype", _s(10)),
    sa.Column("location", _s(80)),
    sa.Column("borrowernumber", sa.Integer),
    sa.Column("ccode", _s(80)),
    sa.Column("categorycode", _s(10)),
    sa.Column("interface", _s(30)),
    sa.Index("timeidx", "datetime"),
    sa.Index("statistics_borrowernumber", "borrowernumber"),
)

accountlines = sa.Table(
    "accountlines", metadata,
    sa.Column("accountlines_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.Integer),
    sa.Column("old_issue_id", sa.Integer),
    sa.Column("borrowernumber", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="SET NULL")),
    sa.Column("itemnumber", sa.Integer),
    sa.Column("date", sa.DateTime),
    sa.Column("amount", MONEY),
    sa.Column("description", LONGTEXT),
    sa.Column("credit_type_code", _s(80)),
    sa.Column("debit_type_code", _s(80)),
    sa.Column("status", _s(16)),
    sa.Column("amountoutstanding", MONEY),
    sa.Column("timestamp", sa.DateTime, nullable=False),
    sa.Column("note", MEDIUMTEXT),
    sa.Column("manager_id", sa.Integer),
    sa.Column("interface", _s(16), nullable=False, server_default="intranet"),
    sa.Column("branchcode", _s(10)),
    sa.Index("accountlines_borrowernumber", "borrowernumber"),
    sa.Index("accountlines_old_issue_id", "old_issue_id"),
)

action_logs = sa.Table(
    "action_logs", metadata,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", sa.DateTime, nullable=False),
    sa.Column("user", sa.Integer, nullable=False, server_default="0"),
    sa.Column("module", sa.Text),
    sa.Column("action", sa.Text),
    sa.Column("object", sa.Integer),
    sa.Column("info", sa.Text),
    sa.Column("interface", _s(30)),
    sa.Column("script", _s(255)),
    sa.Column("diff", LONGTEXT),
    sa.Index("action_logs_timestamp", "timestamp"),
)

message_queue = sa.Table(
    "message_queue", metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("letter_id", sa.Integer),
    sa.Column("borrowernumber", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="CASCADE")),
    sa.Column("subject", MEDIUMTEXT),
    sa.Column("content", MEDIUMTEXT),
    sa.Column("metadata", MEDIUMTEXT),
    sa.Column("letter_code", _s(64)),
    sa.Column("message_transport_type", _s(20), nullable=False),
    sa.Column("status", _s(20), nullable=False, server_default="pending"),
    sa.Column("time_queued", sa.DateTime),
    sa.Column("updated_on", sa.DateTime, nullable=False),
    sa.Column("to_address", LONGTEXT),
    sa.Column("from_address", LONGTEXT),
    sa.Column("content_type", sa.Text),
    sa.Index("message_queue_borrowernumber", "borrowernumber"),
)

items_last_borrower = sa.Table(
    "items_last_borrower", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("itemnumber", sa.Integer, sa.ForeignKey("items.itemnumber", ondelete="CASCADE"), nullable=False),
    sa.Column("borrowernumber", sa.Integer, sa.ForeignKey("borrowers.borrowernumber", ondelete="CASCADE"), nullable=False),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Index("items_last_borrower_itemnumber", "itemnumber", unique=True),
)

search_history = sa.Table(
    "search_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("userid", sa.Integer, nullable=False),
    sa.Column("sessionid", _s(32), nullable=False),
    sa.Column("query_desc", _s(255), nullable=False),
    sa.Column("query_cgi", sa.Text, nullable=False),
    sa.Column("type", _s(16), nullable=False, server_default="biblio"),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("time", sa.DateTime, nullable=False),
    sa.Index("search_history_userid", "userid"),
)

systempreferences = sa.Table(
    "systempreferences", metadata,
    sa.Column("variable", _s(50), primary_key=True),
    sa.Column("value", MEDIUMTEXT),
    sa.Column("options", LONGTEXT),
    sa.Column("explanation", sa.Text),
    sa.Column("type", _s(20)),
)

#: Every Koha table ``ils init`` creates, parents before children.
KOHA_TABLES: tuple[str, ...] = tuple(t.name for t in metadata.sorted_tables)
