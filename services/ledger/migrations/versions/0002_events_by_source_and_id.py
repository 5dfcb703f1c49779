"""events are identified by source and id

CloudEvents identifies an event by ``source`` + ``id``; the index keyed by ``id`` alone let
one department claim (and so block) another's ids. The table is rebuilt with the primary key
(source, event_id), copying every row: every row already has its source, and ids were
unique chain-wide before, so they stay unique per source.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = "source, event_id, height, position, leaf_index, leaf_hash, type"


def _events_table(name: str, primary_key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint(*primary_key),
        sa.UniqueConstraint("leaf_index"),
    )


def _rebuild(primary_key: list[str]) -> None:
    _events_table("ledger_events_rebuilt", primary_key)
    op.execute(f"INSERT INTO ledger_events_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM ledger_events")
    op.drop_index("ix_ledger_events_height", table_name="ledger_events")
    op.drop_table("ledger_events")
    op.rename_table("ledger_events_rebuilt", "ledger_events")
    op.create_index("ix_ledger_events_height", "ledger_events", ["height"], unique=False)


def upgrade() -> None:
    _rebuild(["source", "event_id"])


def downgrade() -> None:
    _rebuild(["event_id"])  # fails, as it must, if two sources share an id
