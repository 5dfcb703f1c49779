"""ledger store tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:49:41.712260
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_blocks",
        sa.Column("height", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("header_json", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("height"),
        sa.UniqueConstraint("hash"),
    )
    op.create_table(
        "ledger_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("leaf_index"),
    )
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_events_height"), ["height"], unique=False)

    op.create_table(
        "ledger_merkle_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )


def downgrade() -> None:
    op.drop_table("ledger_merkle_nodes")
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_events_height"))

    op.drop_table("ledger_events")
    op.drop_table("ledger_blocks")
