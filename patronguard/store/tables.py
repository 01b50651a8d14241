"""The store's tables as they are at the latest migration (for queries)."""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

pipeline_runs = sa.Table(
    "pipeline_runs", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("ils", sa.String(255), nullable=False),
    sa.Column("policy_library", sa.String(255), nullable=False),
    sa.Column("policy_version", sa.String(40), nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
)

legal_holds = sa.Table(
    "legal_holds", metadata,
    sa.Column("hold_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("borrowernumber", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("reference", sa.String(255)),
    sa.Column("placed_at", sa.DateTime, nullable=False),
    sa.Column("placed_by", sa.String(255), nullable=False),
    sa.Column("released_at", sa.DateTime),
    sa.Column("released_by", sa.String(255)),
)
