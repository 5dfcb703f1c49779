"""analytics tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:11:55.903277
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
        "analytics_block_events",
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.String(length=40), nullable=False, comment="start of the block-time hour"),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("height", "source"),
    )
    with op.batch_alter_table("analytics_block_events", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_block_events_hour", ["hour"], unique=False)

    op.create_table(
        "analytics_businesses",
        sa.Column("business_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False, comment="the department that registered it"),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_id"),
    )
    op.create_table(
        "analytics_cases",
        sa.Column("service_type", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True, comment="NULL when the chain does not say"),
        sa.Column("opened_at", sa.String(length=40), nullable=False, comment="block time of the opening event"),
        sa.Column("opened_height", sa.Integer(), nullable=False),
        sa.Column("opened_event_id", sa.String(length=64), nullable=False),
        sa.Column(
            "decided_at", sa.String(length=40), nullable=True, comment="block time of the decision; NULL while open"
        ),
        sa.Column("decided_height", sa.Integer(), nullable=True),
        sa.Column("decided_event_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True, comment="approved, rejected or expired"),
        sa.Column(
            "reason",
            sa.String(length=500),
            nullable=True,
            comment="why, when the decision says (e.g. the failed condition)",
        ),
        sa.PrimaryKeyConstraint("service_type", "case_id"),
    )
    with op.batch_alter_table("analytics_cases", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_cases_opened_height", ["opened_height"], unique=False)

    op.create_table(
        "analytics_head",
        sa.Column("id", sa.Integer(), nullable=False, comment="always 1"),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "analytics_refusals",
        sa.Column(
            "stream_seq", sa.BigInteger(), autoincrement=False, nullable=False, comment="sequence in stream REJECTED"
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column(
            "rejected_at",
            sa.String(length=40),
            nullable=True,
            comment="the orderer's clock (refusals have no block time)",
        ),
        sa.PrimaryKeyConstraint("stream_seq"),
    )


def downgrade() -> None:
    op.drop_table("analytics_refusals")
    op.drop_table("analytics_head")
    with op.batch_alter_table("analytics_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_cases_opened_height")

    op.drop_table("analytics_cases")
    op.drop_table("analytics_businesses")
    with op.batch_alter_table("analytics_block_events", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_block_events_hour")

    op.drop_table("analytics_block_events")
