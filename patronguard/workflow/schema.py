"""Store tables of the request workflow, as created by store migration 4.

Never change this DDL: add a migration for any later change (an old store upgrades step by step)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def create_workflow_tables(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "access_requests", md,
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("requester_role", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("document", sa.Text, nullable=False),
    )
    sa.Table(
        "request_events", md,
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("note", sa.Text),
    )
    sa.Table(
        "obligations", md,
        sa.Column("obligation_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), index=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("closed_by", sa.String(255)),
        sa.Column("note", sa.Text),
    )
    md.create_all(conn)
    conn.execute(sa.text("ALTER TABLE legal_holds ADD COLUMN request_id VARCHAR(36)"))
